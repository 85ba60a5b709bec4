package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestCheckSpecFiles(t *testing.T) {
	files := []types.File{{Name: "conf", Content: []byte("x=1\n")}, {Name: "big", Content: make([]byte, types.MaxFilesSize/2+1)}}
	spec := func(mounts ...types.FileMount) types.PodSpec {
		return types.PodSpec{Files: files, Containers: []types.ContainerSpec{{Image: "busybox", Files: mounts}}}
	}
	good := spec(types.FileMount{Name: "conf", Path: "/etc/app.conf", Perm: "0600", User: "www", Group: "1"},
		types.FileMount{Name: "conf", Path: "/etc/copy.conf"}, types.FileMount{Name: "big", Path: "/big"})
	if _, err := checkSpec(good); err != nil {
		t.Fatal(err)
	}
	got := containerFiles(good.Files, good.Containers[0])
	if len(got) != 3 {
		t.Fatalf("containerFiles: %+v", got)
	}
	if got[0].Path != "/etc/app.conf" || got[0].Mode != 0o600 || got[1].Mode != 0o644 || string(got[0].Content) != "x=1\n" || got[0].User != "www" || got[0].Group != "1" {
		t.Errorf("containerFiles: %+v", got[:2])
	}
	one := func(f types.File) []types.File { return append(append([]types.File(nil), files...), f) }
	bad := []struct {
		want string
		spec types.PodSpec
	}{
		{`file "nope" is not declared`, spec(types.FileMount{Name: "nope", Path: "/x"})},
		{"want a clean absolute path", spec(types.FileMount{Name: "conf", Path: "x"})},
		{"want a clean absolute path", spec(types.FileMount{Name: "conf", Path: "/a/../x"})},
		{"want a clean absolute path", spec(types.FileMount{Name: "conf", Path: "/"})},
		{"is given twice", spec(types.FileMount{Name: "conf", Path: "/x"}, types.FileMount{Name: "conf", Path: "/x"})},
		{"bad perm", spec(types.FileMount{Name: "conf", Path: "/x", Perm: "0999"})},
		{"without ':'", spec(types.FileMount{Name: "conf", Path: "/x", User: "a:b"})},
		{"a container's files may hold", spec(types.FileMount{Name: "big", Path: "/1"}, types.FileMount{Name: "big", Path: "/2"})},
		{"a pod's files may hold", types.PodSpec{Files: one(types.File{Name: "big2", Content: make([]byte, types.MaxFilesSize/2)}), Containers: []types.ContainerSpec{{Image: "busybox"}}}},
		{"declared twice", types.PodSpec{Files: one(types.File{Name: "conf"}), Containers: []types.ContainerSpec{{Image: "busybox"}}}},
		{"initContainers[0].files[0]", types.PodSpec{Files: files, InitContainers: []types.ContainerSpec{{Image: "busybox", Files: []types.FileMount{{Name: "x", Path: "/x"}}}}, Containers: []types.ContainerSpec{{Image: "busybox"}}}},
	}
	for _, c := range bad {
		_, err := checkSpec(c.spec)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an invalid-argument error with %q, got %v", c.want, err)
		}
	}
}

func TestPodSysctls(t *testing.T) {
	spec := types.PodSpec{
		InitContainers: []types.ContainerSpec{{Image: "b", Sysctls: map[string]string{"kernel.shmmax": "1000000"}}},
		Containers: []types.ContainerSpec{
			{Image: "b", Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"}},
			{Image: "b", Sysctls: map[string]string{"net/ipv4/ip_forward": "1"}},
		},
	}
	if _, err := checkSpec(spec); err != nil {
		t.Fatal(err)
	}
	got, err := podSysctls(spec)
	if err != nil || len(got) != 2 || got["net/ipv4/ip_forward"] != "1" || got["kernel/shmmax"] != "1000000" {
		t.Errorf("podSysctls = %v, %v", got, err)
	}
	if got, err := podSysctls(types.PodSpec{Containers: []types.ContainerSpec{{Image: "b"}}}); got != nil || err != nil {
		t.Errorf("no sysctls: %v, %v", got, err)
	}
	for want, s := range map[string]map[string]string{
		"not namespaced":                 {"vm.swappiness": "10"},
		"sysctls apply to the whole pod": {"net.ipv4.ip_forward": "0"},
		"control character":              {"net.ipv4.ip_forward": "1\n"},
	} {
		bad := spec
		bad.Containers = append([]types.ContainerSpec(nil), spec.Containers...)
		bad.Containers[1] = types.ContainerSpec{Image: "b", Sysctls: s}
		_, err := checkSpec(bad)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "containers[1].sysctls") {
			t.Errorf("%v: want an invalid-argument error with %q, got %v", s, want, err)
		}
	}
}
