package spawn

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/security"
	"github.com/hyperhq/hyper/internal/protocol"
)

func TestEnv(t *testing.T) {
	got := Env([]string{"PATH=/x", "A=1"}, "/home/u", true)
	if got[0] != "PATH=/x" || got[1] != "A=1" || got[2] != "HOME=/home/u" || got[len(got)-1] != "TERM=xterm" {
		t.Fatalf("%q", got)
	}
	got = Env([]string{"HOME=/h", "TERM=vt100"}, "/home/u", true)
	want := "PATH=" + DefaultPath
	if got[2] != want || got[0] != "HOME=/h" || got[1] != "TERM=vt100" {
		t.Fatalf("%q", got)
	}
	for _, e := range got[3:] {
		if e == "TERM=xterm" || e == "HOME=/home/u" {
			t.Fatalf("duplicate: %q", got)
		}
	}
	if getenv([]string{"A=1", "PATH=/a", "PATH=/b"}, "PATH") != "/a" {
		t.Fatal("getenv")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data"), nil, 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	if p, err := LookPath("prog", "/nonexistent:"+dir); err != nil || p != exe {
		t.Fatalf("%q %v", p, err)
	}
	if p, err := LookPath(exe, ""); err != nil || p != exe {
		t.Fatalf("%q %v", p, err)
	}
	for name, code := range map[string]string{
		"missing":                     protocol.CodeNotFound,
		"data":                        protocol.CodeNotFound,
		filepath.Join(dir, "data"):    protocol.CodeInvalidArgument,
		filepath.Join(dir, "sub"):     protocol.CodeInvalidArgument,
		filepath.Join(dir, "missing"): protocol.CodeNotFound,
	} {
		_, err := LookPath(name, dir)
		if errs.Code(err) != code {
			t.Errorf("%s: %v, want %s", name, err, code)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := protocol.ProcessSpec{Args: []string{"sh"}, Env: []string{"A=", "B=c=d"}, Cwd: "/tmp",
		Rlimits: []protocol.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}}}
	if err := Validate(&ok); err != nil {
		t.Fatal(err)
	}
	bad := []protocol.ProcessSpec{
		{},
		{Args: []string{""}},
		{Args: []string{"a\x00b"}},
		{Args: []string{"sh"}, Env: []string{"NOEQUALS"}},
		{Args: []string{"sh"}, Env: []string{"=x"}},
		{Args: []string{"sh"}, Cwd: "relative"},
		{Args: []string{"sh"}, Rlimits: []protocol.Rlimit{{Type: "RLIMIT_FOO"}}},
	}
	for _, p := range bad {
		if err := Validate(&p); errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func TestParseRights(t *testing.T) {
	fds, err := parseRights(nil)
	if err != nil || !reflect.DeepEqual(fds, []int(nil)) {
		t.Fatal(fds, err)
	}
}

func TestDirect(t *testing.T) {
	oom, umask := 0, uint32(0o077)
	for _, tc := range []struct {
		name string
		spec Spec
		want bool
	}{
		{"plain exec", Spec{Process: protocol.ProcessSpec{Args: []string{"x"}}}, true},
		{"umask and no_new_privs on the thread", Spec{Process: protocol.ProcessSpec{Umask: &umask, NoNewPrivileges: true}}, true},
		{"init with the pod's proc", Spec{Init: true, Proc: "/run/proc"}, true},
		{"init without", Spec{Init: true}, false},
		{"rlimits", Spec{Process: protocol.ProcessSpec{Rlimits: []protocol.Rlimit{{Type: "RLIMIT_NOFILE"}}}}, false},
		{"capabilities", Spec{Process: protocol.ProcessSpec{Capabilities: &protocol.Capabilities{}}}, false},
		{"seccomp", Spec{Process: protocol.ProcessSpec{Seccomp: &protocol.SeccompFilter{Program: make([]byte, 8)}}}, false},
		{"oom score", Spec{Process: protocol.ProcessSpec{OOMScoreAdj: &oom}}, false},
	} {
		conf, err := security.Parse(&tc.spec.Process)
		if err != nil {
			t.Fatal(err)
		}
		if got := Direct(&tc.spec, &conf); got != tc.want {
			t.Errorf("%s: Direct = %v", tc.name, got)
		}
	}
}

func TestValidateConfinement(t *testing.T) {
	big := uint32(0o7777)
	for _, p := range []protocol.ProcessSpec{
		{Args: []string{"sh"}, Capabilities: &protocol.Capabilities{Effective: []string{"CAP_NOPE"}}},
		{Args: []string{"sh"}, Seccomp: &protocol.SeccompFilter{Program: make([]byte, 7)}},
		{Args: []string{"sh"}, Umask: &big},
	} {
		if err := Validate(&p); errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%+v: %v", p, err)
		}
	}
}
