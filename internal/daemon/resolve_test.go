package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// TestFindContainer: a reference names a pod first, then POD/CONTAINER,
// then a container name unique across pods; an ambiguous name lists its
// candidates.
func TestFindContainer(t *testing.T) {
	var log lockedBuffer
	d := openWithBusybox(t, t.TempDir(), &log)
	ctx := t.Context()
	ids := map[string]string{}
	for _, pod := range []struct {
		name  string
		ctrs  []string
		inits []string
	}{
		{"web", []string{"main", "second", "shared"}, []string{"setup"}},
		{"db", []string{"db", "shared"}, nil},
		{"main", []string{"x"}, nil}, // a pod named as another pod's container
	} {
		spec := types.PodSpec{Name: pod.name}
		for _, c := range pod.ctrs {
			spec.Containers = append(spec.Containers, types.ContainerSpec{Name: c, Image: "busybox", Cmd: []string{"true"}})
		}
		for _, c := range pod.inits {
			spec.InitContainers = append(spec.InitContainers, types.ContainerSpec{Name: c, Image: "busybox", Cmd: []string{"true"}})
		}
		cr, err := d.Pods().Create(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		ids[pod.name] = cr.ID
	}
	for _, tc := range []struct {
		ref, container string
		inits          bool
		pod, ctr       string
		kind           error
	}{
		{ref: "web", pod: "web", ctr: "main"},
		{ref: ids["web"][:8], pod: "web", ctr: "main"},
		{ref: "web", container: "second", pod: "web", ctr: "second"},
		{ref: "web/second", pod: "web", ctr: "second"},
		{ref: ids["db"] + "/shared", pod: "db", ctr: "shared"},
		{ref: "second", pod: "web", ctr: "second"},
		{ref: "db", pod: "db", ctr: "db"},    // the pod, whose first container has its name
		{ref: "main", pod: "main", ctr: "x"}, // the pod named main wins over web's container
		{ref: "web/main", pod: "web", ctr: "main"},
		{ref: "setup", kind: errdefs.ErrNotFound}, // init containers are found by their pod only
		{ref: "web/setup", inits: true, pod: "web", ctr: "setup"},
		{ref: "web/setup", kind: errdefs.ErrNotFound},
		{ref: "shared", kind: errdefs.ErrConflict},
		{ref: "nothing", kind: errdefs.ErrNotFound},
		{ref: "web/nothing", kind: errdefs.ErrNotFound},
		{ref: "nothing/main", kind: errdefs.ErrNotFound},
		{ref: "web/", kind: errdefs.ErrInvalidArgument},
		{ref: "web/second", container: "main", kind: errdefs.ErrInvalidArgument},
		{ref: "", kind: errdefs.ErrInvalidArgument},
	} {
		p, name, err := d.findContainer(tc.ref, tc.container, tc.inits)
		if tc.kind != nil {
			if !errors.Is(err, tc.kind) {
				t.Errorf("%q -c %q: %v, want %v", tc.ref, tc.container, err, tc.kind)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q -c %q: %v", tc.ref, tc.container, err)
			continue
		}
		if p.rec.ID != ids[tc.pod] || name != tc.ctr {
			t.Errorf("%q -c %q: pod %s container %s, want %s/%s", tc.ref, tc.container, p.name(), name, tc.pod, tc.ctr)
		}
	}
	_, _, err := d.findContainer("shared", "", false)
	if err == nil || !strings.Contains(err.Error(), "db/shared, web/shared") {
		t.Errorf("an ambiguous name should list its candidates: %v", err)
	}
	ref, err := d.Containers().ResolveContainer(ctx, "second", "")
	if err != nil || ref != (types.ContainerRef{PodID: ids["web"], PodName: "web", Container: "second"}) {
		t.Errorf("ResolveContainer(second) = %+v, %v", ref, err)
	}
}
