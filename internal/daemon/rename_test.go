package daemon

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// TestRename: a pod takes a free, valid name, keeps it across a hyperd
// restart, and is no longer found by its old one; a taken or invalid name
// is refused with its kind.
func TestRename(t *testing.T) {
	root := t.TempDir()
	var log lockedBuffer
	d := openWithBusybox(t, root, &log)
	ctx := t.Context()
	for _, name := range []string{"old", "other"} {
		spec := types.PodSpec{Name: name, Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}}
		if _, err := d.Pods().Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Pods().Rename(ctx, "old", "other"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("rename to a taken name: %v", err)
	}
	for _, bad := range []string{"", "-x", "x/y", "with space", string(make([]byte, 64))} {
		if err := d.Pods().Rename(ctx, "old", bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("rename to %q: %v", bad, err)
		}
	}
	if err := d.Pods().Rename(ctx, "nope", "c"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rename of a missing pod: %v", err)
	}
	if err := d.Pods().Rename(ctx, "old", "old"); err != nil {
		t.Errorf("rename to its own name: %v", err)
	}
	if err := d.Pods().Rename(ctx, "old", "new"); err != nil {
		t.Fatal(err)
	}
	check := func(d *Daemon) {
		t.Helper()
		p, err := d.Pods().Get(ctx, "new")
		if err != nil || p.Name != "new" || p.Spec.Name != "new" {
			t.Fatalf("get new: %+v, %v", p, err)
		}
		if _, err := d.Pods().Get(ctx, "old"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("get old after the rename: %v", err)
		}
	}
	check(d)
	// The old name is free again.
	spec := types.PodSpec{Name: "old", Containers: []types.ContainerSpec{{Image: "busybox", Cmd: []string{"true"}}}}
	cr, err := d.Pods().Create(ctx, spec)
	if err != nil {
		t.Fatalf("creating a pod with the old name: %v", err)
	}
	if err := d.Pods().Remove(ctx, cr.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d, err = openRoot(t, root, &log); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	check(d)
}

// openWithBusybox opens a daemon (no VM boots) on a new state root and
// loads busybox into it.
func openWithBusybox(t *testing.T, root string, log *lockedBuffer) *Daemon {
	t.Helper()
	d, err := openRoot(t, root, log)
	if err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := devimage.BusyboxArchive(&archive, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Images().Load(t.Context(), &archive); err != nil {
		t.Fatal(err)
	}
	return d
}
