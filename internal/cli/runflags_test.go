package cli

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestParseRestart(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "no": "never", "always": "always", "unless-stopped": "unlessStopped",
		"on-failure": "onFailure", "on-failure:3": "onFailure:3", "on-failure:0": "onFailure:0",
	} {
		if got, err := parseRestart(in); err != nil || got != want {
			t.Errorf("parseRestart(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"never", "always:2", "on-failure:-1", "on-failure:x", "sometimes"} {
		if _, err := parseRestart(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseRestart(%q): %v", bad, err)
		}
	}
}

func TestParseAddHost(t *testing.T) {
	for in, want := range map[string]types.HostAlias{
		"db:10.0.0.1":     {IP: "10.0.0.1", Hostnames: []string{"db"}},
		"db=10.0.0.1":     {IP: "10.0.0.1", Hostnames: []string{"db"}},
		"v6:::1":          {IP: "::1", Hostnames: []string{"v6"}},
		"v6=[fe80::1]":    {IP: "fe80::1", Hostnames: []string{"v6"}},
		"gw:host-gateway": {IP: "host-gateway", Hostnames: []string{"gw"}},
	} {
		if got, err := parseAddHost(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseAddHost(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"db", ":1.2.3.4", "db:", "db:host", "db:1.2.3"} {
		if _, err := parseAddHost(bad); err == nil {
			t.Errorf("parseAddHost(%q) accepted", bad)
		}
	}
}

func TestParseUlimit(t *testing.T) {
	if u, err := parseUlimit("nofile=1024:2048"); err != nil || u != (types.Ulimit{Name: "nofile", Soft: 1024, Hard: 2048}) {
		t.Errorf("nofile=1024:2048: %+v, %v", u, err)
	}
	if u, err := parseUlimit("nproc=50"); err != nil || u != (types.Ulimit{Name: "nproc", Soft: 50, Hard: 50}) {
		t.Errorf("nproc=50: %+v, %v", u, err)
	}
	for _, bad := range []string{"nofile", "files=1", "nofile=2:1", "nofile=-1", "nofile=a:b"} {
		if _, err := parseUlimit(bad); err == nil {
			t.Errorf("parseUlimit(%q) accepted", bad)
		}
	}
}

func TestParseTmpfsAndMount(t *testing.T) {
	mem := func(mb int) *types.EmptyDirVolumeSource {
		return &types.EmptyDirVolumeSource{Medium: "Memory", SizeLimitMB: mb}
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		tmpfs, mount string
		want         volumeMount
	}{
		{tmpfs: "/run", want: volumeMount{types.Volume{EmptyDir: mem(0)}, types.VolumeMount{MountPath: "/run"}}},
		{tmpfs: "/run:size=64m,mode=1777,ro", want: volumeMount{types.Volume{EmptyDir: mem(64)}, types.VolumeMount{MountPath: "/run", ReadOnly: true}}},
		{mount: "type=tmpfs,target=/t,tmpfs-size=1048576", want: volumeMount{types.Volume{EmptyDir: mem(1)}, types.VolumeMount{MountPath: "/t"}}},
		{mount: "type=volume,source=data,target=/d,readonly", want: volumeMount{types.Volume{Named: &types.NamedVolumeSource{Name: "data"}}, types.VolumeMount{MountPath: "/d", ReadOnly: true}}},
		{mount: "target=/anon", want: volumeMount{types.Volume{EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{MountPath: "/anon"}}},
		{mount: `type=bind,src=` + dir + `,dst=/h,readonly=false`, want: volumeMount{types.Volume{HostPath: &types.HostPathVolumeSource{Path: dir}}, types.VolumeMount{MountPath: "/h"}}},
	} {
		var got volumeMount
		var err error
		if tc.tmpfs != "" {
			got, err = parseTmpfs(tc.tmpfs)
		} else {
			got, err = parseMount(tc.mount)
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q%q: %+v, %v; want %+v", tc.tmpfs, tc.mount, got, err, tc.want)
		}
	}
	for _, bad := range []string{"run", "/run:noexec", "/run:mode=0700", "/run:size=big"} {
		if _, err := parseTmpfs(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseTmpfs(%q): %v", bad, err)
		}
	}
	for _, bad := range []string{
		"type=bind,source=" + filepath.Join(dir, "missing") + ",target=/x", "type=bind,source=rel,target=/x",
		"type=volume,source=data", "type=volume,source=data,target=/x,tmpfs-size=1", "type=tmpfs,source=x,target=/x",
		"type=nfs,target=/x", "type=bind,source=/,target=/x,bind-propagation=shared", "type=volume,target=/x,readonly=maybe",
		`type="bind`,
	} {
		if _, err := parseMount(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("parseMount(%q): %v", bad, err)
		}
	}
}

func TestRunFlagsRefused(t *testing.T) {
	for _, o := range []runFlags{{devices: []string{"/dev/sda"}}, {gpus: "all"}, {logDriver: "syslog"},
		{namespaces: map[string]*string{"pid": new("host")}}} {
		if err := o.check(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	o := runFlags{restart: "always"}
	spec := types.PodSpec{Containers: []types.ContainerSpec{{Image: "x"}}}
	if _, err := o.apply(&spec, true); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("--restart always --rm: %v", err)
	}
	if got := (&runFlags{restart: "no", ulimits: []string{"x"}}).setInFile(); !reflect.DeepEqual(got, []string{"--restart", "--ulimit"}) {
		t.Errorf("setInFile: %v", got)
	}
}

func TestParseLogOpts(t *testing.T) {
	l, err := parseLogOpts([]string{"max-size=10m", "max-file=3"})
	if err != nil || *l != (types.LogConfig{MaxSize: 10 << 20, MaxFiles: 3}) {
		t.Errorf("%+v %v", l, err)
	}
	if l, err := parseLogOpts([]string{"max-size=4096"}); err != nil || l.MaxSize != 4096 {
		t.Errorf("bytes: %+v %v", l, err)
	}
	for _, bad := range []string{"max-size=big", "max-size=1.5m", "max-file=0", "compress=true", "max-size=10x"} {
		if _, err := parseLogOpts([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestShmSize(t *testing.T) {
	spec := types.PodSpec{Containers: []types.ContainerSpec{{Image: "x"}}}
	if _, err := (&runFlags{shmSize: "1g"}).apply(&spec, false); err != nil || spec.Containers[0].ShmSizeMB != 1024 {
		t.Errorf("--shm-size 1g: %d %v", spec.Containers[0].ShmSizeMB, err)
	}
	if _, err := (&runFlags{shmSize: "-1"}).apply(&spec, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("--shm-size -1: %v", err)
	}
}
