package secpolicy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// mask is the capability bit set of caps, as /proc/PID/status shows it.
func mask(t *testing.T, caps []string) uint64 {
	t.Helper()
	var m uint64
	for _, c := range caps {
		i := slices.Index(allCaps, c)
		if i < 0 {
			t.Fatalf("unknown %s", c)
		}
		m |= 1 << i
	}
	return m
}

func TestCaps(t *testing.T) {
	for _, tc := range []struct {
		add, drop  []string
		privileged bool
		want       uint64
	}{
		{want: 0xa80425fb}, // Docker's CapEff
		{drop: []string{"all"}, want: 0},
		{add: []string{"SYS_ADMIN"}, want: 0xa80425fb | 1<<21},
		{add: []string{"cap_sys_admin", "CAP_SYS_ADMIN"}, want: 0xa80425fb | 1<<21},
		{drop: []string{"chown", "Cap_Kill"}, want: 0xa80425fb &^ (1 | 1<<5)},
		{add: []string{"NET_ADMIN"}, drop: []string{"ALL"}, want: 1 << 12},
		{add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, want: (1<<41 - 1) &^ (1 << 21)},
		{add: []string{"chown"}, drop: []string{"chown"}, want: 0xa80425fb},
		{privileged: true, drop: []string{"ALL"}, want: 1<<41 - 1},
	} {
		caps, err := Caps(tc.add, tc.drop, tc.privileged)
		if err != nil {
			t.Fatal(err)
		}
		if got := mask(t, caps); got != tc.want {
			t.Errorf("add %v drop %v privileged %v: %x, want %x", tc.add, tc.drop, tc.privileged, got, tc.want)
		}
	}
	for _, bad := range [][]string{{"CAP_NOPE"}, {"sys-admin"}, {""}} {
		if _, err := Caps(bad, nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("add %q: %v", bad, err)
		}
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "allow.json"), []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(outside, []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	pol := Policy{ProfileDir: dir}
	def, err := pol.Resolve(ctx, types.ContainerSpec{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.Seccomp == nil || def.NoNewPrivileges || mask(t, def.Capabilities.Effective) != 0xa80425fb ||
		len(def.Capabilities.Inheritable) != 0 || len(def.Capabilities.Ambient) != 0 ||
		!slices.Equal(def.Capabilities.Bounding, def.Capabilities.Permitted) {
		t.Errorf("default: %+v %+v", def, def.Capabilities)
	}
	for _, tc := range []struct {
		what    string
		c       types.ContainerSpec
		filter  bool
		nnp     bool
		samePrg bool // the default program
	}{
		{"unconfined", types.ContainerSpec{SecurityOpt: []string{"seccomp=unconfined"}}, false, false, false},
		{"privileged", types.ContainerSpec{Privileged: true}, false, false, false},
		{"privileged with a profile", types.ContainerSpec{Privileged: true, SecurityOpt: []string{"seccomp=builtin"}}, true, false, false},
		{"nnp", types.ContainerSpec{SecurityOpt: []string{"no-new-privileges"}}, true, true, true},
		{"nnp=true", types.ContainerSpec{SecurityOpt: []string{"no-new-privileges=true"}}, true, true, true},
		{"nnp:true then false", types.ContainerSpec{SecurityOpt: []string{"no-new-privileges:true", "no-new-privileges=false"}}, true, false, true},
		{"apparmor, label", types.ContainerSpec{SecurityOpt: []string{"apparmor=unconfined", "label=disable", "label:type:x"}}, true, false, true},
		{"JSON", types.ContainerSpec{SecurityOpt: []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`}}, true, false, false},
		{"localhost", types.ContainerSpec{SecurityOpt: []string{"seccomp=localhost/allow.json"}}, true, false, false},
		{"systempaths", types.ContainerSpec{SecurityOpt: []string{"systempaths=unconfined"}}, true, false, true},
		{"nonroot", types.ContainerSpec{RunAsNonRoot: true, User: "1000"}, true, false, true},
	} {
		s, err := pol.Resolve(ctx, tc.c, tc.c.User)
		if err != nil {
			t.Errorf("%s: %v", tc.what, err)
			continue
		}
		if (s.Seccomp != nil) != tc.filter || s.NoNewPrivileges != tc.nnp ||
			(s.Seccomp != nil && (string(s.Seccomp.Program) == string(def.Seccomp.Program)) != tc.samePrg) {
			t.Errorf("%s: filter %v nnp %v", tc.what, s.Seccomp != nil, s.NoNewPrivileges)
		}
	}
	for _, tc := range []struct {
		what string
		c    types.ContainerSpec
		user string
	}{
		{"unknown option", types.ContainerSpec{SecurityOpt: []string{"foo=bar"}}, ""},
		{"no value", types.ContainerSpec{SecurityOpt: []string{"seccomp"}}, ""},
		{"bad nnp", types.ContainerSpec{SecurityOpt: []string{"no-new-privileges=maybe"}}, ""},
		{"bad JSON", types.ContainerSpec{SecurityOpt: []string{"seccomp={"}}, ""},
		{"escaping", types.ContainerSpec{SecurityOpt: []string{"seccomp=localhost/../x.json"}}, ""},
		{"absolute", types.ContainerSpec{SecurityOpt: []string{"seccomp=localhost/" + outside}}, ""},
		{"symlink out", types.ContainerSpec{SecurityOpt: []string{"seccomp=localhost/link.json"}}, ""},
		{"missing", types.ContainerSpec{SecurityOpt: []string{"seccomp=localhost/none.json"}}, ""},
		{"systempaths", types.ContainerSpec{SecurityOpt: []string{"systempaths=confined"}}, ""},
		{"bad cap", types.ContainerSpec{CapAdd: []string{"CAP_FLY"}}, ""},
		{"nonroot: no user", types.ContainerSpec{RunAsNonRoot: true}, ""},
		{"nonroot: 0", types.ContainerSpec{RunAsNonRoot: true}, "0:1000"},
		{"nonroot: name", types.ContainerSpec{RunAsNonRoot: true}, "nobody"},
	} {
		if _, err := pol.Resolve(ctx, tc.c, tc.user); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v, want InvalidArgument", tc.what, err)
		}
	}
}

func TestPaths(t *testing.T) {
	m, r := Paths(types.ContainerSpec{})
	if !slices.Contains(m, "/proc/kcore") || !slices.Contains(r, "/proc/sys") {
		t.Errorf("default: %v %v", m, r)
	}
	for _, c := range []types.ContainerSpec{{Privileged: true}, {SecurityOpt: []string{"systempaths=unconfined"}}} {
		if m, r := Paths(c); m != nil || r != nil {
			t.Errorf("%+v: %v %v", c, m, r)
		}
	}
}

func TestExecCaps(t *testing.T) {
	base := capSets(DefaultCaps)
	if ExecCaps(base, false) != base {
		t.Error("an exec does not inherit")
	}
	if got := ExecCaps(base, true); mask(t, got.Effective) != 1<<41-1 {
		t.Errorf("privileged exec: %v", got.Effective)
	}
}
