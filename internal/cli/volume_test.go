package cli

import (
	"errors"
	"reflect"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestParseVolumeFlag(t *testing.T) {
	for in, want := range map[string]struct {
		v types.Volume
		m types.VolumeMount
	}{
		"/srv/data:/data":    {types.Volume{HostPath: &types.HostPathVolumeSource{Path: "/srv/data"}}, types.VolumeMount{MountPath: "/data"}},
		"/srv/data:/data:ro": {types.Volume{HostPath: &types.HostPathVolumeSource{Path: "/srv/data"}}, types.VolumeMount{MountPath: "/data", ReadOnly: true}},
		"mydata:/data:rw":    {types.Volume{Named: &types.NamedVolumeSource{Name: "mydata"}}, types.VolumeMount{MountPath: "/data"}},
		"my_data.1-x:/d":     {types.Volume{Named: &types.NamedVolumeSource{Name: "my_data.1-x"}}, types.VolumeMount{MountPath: "/d"}},
		"/cache":             {types.Volume{EmptyDir: &types.EmptyDirVolumeSource{}}, types.VolumeMount{MountPath: "/cache"}},
	} {
		v, m, err := parseVolumeFlag(in)
		if err != nil || !reflect.DeepEqual(v, want.v) || m != want.m {
			t.Errorf("%q: %+v %+v %v", in, v, m, err)
		}
	}
	for _, in := range []string{"", "data", "data:rel", "./x:/x", "-x:/x", ":/x", "/a:/b:rx", "/a:/b:ro:x", "a b:/x"} {
		if _, _, err := parseVolumeFlag(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestAddVolumeFlags(t *testing.T) {
	spec := types.PodSpec{Containers: []types.ContainerSpec{{Image: "busybox"}}}
	if err := addVolumeFlags(&spec, []string{"data:/a", "/srv:/b:ro", "data:/c:ro", "/tmp2"}, nil); err != nil {
		t.Fatal(err)
	}
	if len(spec.Volumes) != 3 {
		t.Fatalf("one pod volume per source, got %+v", spec.Volumes)
	}
	want := []types.VolumeMount{{Name: "volume-0", MountPath: "/a"}, {Name: "volume-1", MountPath: "/b", ReadOnly: true},
		{Name: "volume-0", MountPath: "/c", ReadOnly: true}, {Name: "volume-2", MountPath: "/tmp2"}}
	if got := spec.Containers[0].VolumeMounts; !reflect.DeepEqual(got, want) {
		t.Errorf("mounts %+v", got)
	}
}
