package daemon_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// TestContainersInRunningPod adds containers to a running pod and removes
// them while others come and go (run it with -race), then checks the
// pod's exit is its first container's.
func TestContainersInRunningPod(t *testing.T) {
	d, ctx := newDaemon(t)
	x := d.Containers()
	cr, err := d.Pods().Create(ctx, types.PodSpec{Name: "dyn", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"sh", "-c", "read x; exit 4"}, OpenStdin: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Pods().Start(ctx, cr.ID); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		res, err := x.Add(ctx, "dyn", types.ContainerSpec{Image: "busybox", Cmd: []string{"sleep", "1000"}})
		if err != nil || res.ID != "dyn-1" {
			t.Fatalf("round %d: add: %+v %v", round, res, err)
		}
		// A short-lived one, restarted once, exits while others are added.
		if _, err := x.Add(ctx, "dyn", types.ContainerSpec{Name: "brief", Image: "busybox",
			Cmd: []string{"false"}, RestartPolicy: "onFailure:1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := x.Add(ctx, "dyn", types.ContainerSpec{Name: "brief", Image: "busybox"}); !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("duplicate name: %v", err)
		}
		if err := x.Remove(ctx, "dyn", "dyn-1", false); !errors.Is(err, errdefs.ErrConflict) {
			t.Fatalf("removing a running container without force: %v", err)
		}
		if err := x.Remove(ctx, "dyn", "dyn-1", true); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			p, _ := d.Pods().Get(ctx, "dyn")
			if len(p.Containers) == 2 && p.Containers[1].State == types.StateExited && p.Containers[1].RestartCount == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: brief did not end: %+v", round, p.Containers)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := x.Remove(ctx, "dyn", "brief", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Remove(ctx, "dyn", "dyn", true); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("removing the last container: %v", err)
	}
	if err := x.Remove(ctx, "dyn", "nosuch", true); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("removing a missing container: %v", err)
	}
	if err := d.Pods().Stop(ctx, "dyn", time.Second); err != nil {
		t.Fatal(err)
	}
	p, _ := d.Pods().Get(ctx, "dyn")
	if p.State != types.StateExited || len(p.Containers) != 1 {
		t.Fatalf("after stop: %+v", p)
	}
	// Not running: only the record changes; the container starts with the pod.
	if _, err := x.Add(ctx, "dyn", types.ContainerSpec{Name: "later", Image: "busybox", Cmd: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := d.Pods().Get(ctx, "dyn"); len(p.Containers) != 2 || p.Containers[1].State != types.StateCreated {
		t.Fatalf("added to an exited pod: %+v", p.Containers)
	}
	if err := x.Remove(ctx, "dyn", "later", false); err != nil {
		t.Fatal(err)
	}
}
