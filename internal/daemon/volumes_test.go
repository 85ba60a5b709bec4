package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

func TestPlanVolumes(t *testing.T) {
	dir := t.TempDir()
	root, data := filepath.Join(dir, "root"), filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(root, "pods"), 0o700)
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	os.Symlink(data, filepath.Join(dir, "link"))
	os.Symlink(filepath.Join(root, "pods"), filepath.Join(dir, "escape"))
	vs := &volumes{root: root, runDir: filepath.Join(dir, "run")}

	spec := func(v types.Volume, mounts ...types.VolumeMount) types.PodSpec {
		if len(mounts) == 0 {
			mounts = []types.VolumeMount{{Name: v.Name, MountPath: "/data/"}}
		}
		return types.PodSpec{Volumes: []types.Volume{v},
			Containers: []types.ContainerSpec{{Image: "busybox", VolumeMounts: mounts}}}
	}
	plan, warn, err := vs.plan(spec(types.Volume{Name: "h", HostPath: &types.HostPathVolumeSource{Path: filepath.Join(dir, "link"), ReadOnly: true}}))
	if err != nil || len(warn) > 0 {
		t.Fatal(err, warn)
	}
	if pv := plan[0]; pv.Kind != protocol.MountShare || pv.HostPath != data || !pv.ReadOnly {
		t.Errorf("host path through a symlink: %+v", pv)
	}
	rec := record{Volumes: plan}
	ms := containerMounts(rec, types.ContainerSpec{VolumeMounts: []types.VolumeMount{{Name: "h", MountPath: "/data/"}}})
	if len(ms) != 1 || ms[0] != (protocol.Mount{Kind: protocol.MountShare, Source: "h", Path: "/data", ReadOnly: true}) {
		t.Errorf("mounts %+v", ms)
	}
	plan, _, err = vs.plan(spec(types.Volume{Name: "m", EmptyDir: &types.EmptyDirVolumeSource{Medium: "Memory", SizeLimitMB: 8}}))
	if err != nil || plan[0].Kind != protocol.MountScratch || plan[0].FSType != "tmpfs" || plan[0].SizeMB != 8 {
		t.Errorf("memory emptyDir: %+v %v", plan, err)
	}
	plan, _, err = vs.plan(spec(types.Volume{Name: "n", Named: &types.NamedVolumeSource{Name: "mydata"}}))
	if err != nil || plan[0].Kind != protocol.MountDisk || plan[0].Volume != "mydata" {
		t.Errorf("named: %+v %v", plan, err)
	}
	plan, _, err = vs.plan(spec(types.Volume{Name: "c", HostPath: &types.HostPathVolumeSource{Path: filepath.Join(data, "new"), Type: "DirectoryOrCreate"}}))
	if err != nil || !plan[0].Create {
		t.Errorf("DirectoryOrCreate: %+v %v", plan, err)
	}
	if _, err := os.Stat(filepath.Join(data, "new")); err == nil {
		t.Error("planning created the host path")
	}

	bad := map[string]struct {
		spec types.PodSpec
		want string
	}{
		"not declared": {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{Name: "b", MountPath: "/b"}), "not declared"},
		"missing":      {spec(types.Volume{Name: "a", HostPath: &types.HostPathVolumeSource{Path: filepath.Join(dir, "nope")}}), "does not exist"},
		"escape":       {spec(types.Volume{Name: "a", HostPath: &types.HostPathVolumeSource{Path: filepath.Join(dir, "escape")}}), "symlink"},
		"state":        {spec(types.Volume{Name: "a", HostPath: &types.HostPathVolumeSource{Path: root}}), "hyperd's state"},
		"relative":     {spec(types.Volume{Name: "a", HostPath: &types.HostPathVolumeSource{Path: "data"}}), "not absolute"},
		"not a dir":    {spec(types.Volume{Name: "a", HostPath: &types.HostPathVolumeSource{Path: filepath.Join(dir, "file"), Type: "Directory"}}), "not a Directory"},
		"proc":         {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{Name: "a", MountPath: "/proc"}), "/proc"},
		"sys":          {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{Name: "a", MountPath: "/sys/x"}), "/sys"},
		"dev":          {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{Name: "a", MountPath: "/x/../dev"}), "/dev"},
		"root":         {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{Name: "a", MountPath: "/"}), "over /"},
		"twice": {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}},
			types.VolumeMount{Name: "a", MountPath: "/x"}, types.VolumeMount{Name: "a", MountPath: "/x/"}), "twice"},
		"volume name": {spec(types.Volume{Name: "a", Named: &types.NamedVolumeSource{Name: "-bad"}}), "invalid volume name"},
		"pod name":    {spec(types.Volume{Name: "a/b", EmptyDir: &types.EmptyDirVolumeSource{}}), "invalid or duplicate"},
		"no source":   {spec(types.Volume{Name: "a"}), "exactly one"},
		"two sources": {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{}, Named: &types.NamedVolumeSource{Name: "x"}}), "exactly one"},
		"medium":      {spec(types.Volume{Name: "a", EmptyDir: &types.EmptyDirVolumeSource{Medium: "HugePages"}}), "medium"},
	}
	for name, c := range bad {
		_, _, err := vs.plan(c.spec)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want InvalidArgument with %q", name, err, c.want)
		}
	}
}

func TestCheckAddedMounts(t *testing.T) {
	vols := []podVolume{{Name: "data", Kind: protocol.MountDisk}, {Name: "conf", Kind: protocol.MountShare, ReadOnly: true}}
	mount := func(ms ...types.VolumeMount) types.ContainerSpec { return types.ContainerSpec{VolumeMounts: ms} }
	if err := checkAddedMounts(vols, mount(types.VolumeMount{Name: "data", MountPath: "/data"}, types.VolumeMount{Name: "conf", MountPath: "/etc/app", ReadOnly: true})); err != nil {
		t.Errorf("pod's volumes: %v", err)
	}
	for name, cs := range map[string]types.ContainerSpec{
		"undeclared":       mount(types.VolumeMount{Name: "other", MountPath: "/x"}),
		"writes read-only": mount(types.VolumeMount{Name: "conf", MountPath: "/etc/app"}),
		"over proc":        mount(types.VolumeMount{Name: "data", MountPath: "/proc/x"}),
		"twice":            mount(types.VolumeMount{Name: "data", MountPath: "/d"}, types.VolumeMount{Name: "data", MountPath: "/d/"}),
	} {
		if err := checkAddedMounts(vols, cs); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
	}
}
