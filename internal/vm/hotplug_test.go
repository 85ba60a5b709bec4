package vm_test

import (
	"errors"
	"io"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// TestHotplugDisk adds an image disk to a running VM, runs a container on
// it, removes both, and adds it again: what adding a container to a running
// pod does (ADR 0007).
func TestHotplugDisk(t *testing.T) {
	p := bootPod(t)
	p.container("c1", "sleep", "3600")
	blocks := func() string { return p.sh("c1", "ls /sys/block | tr '\\n' ' '") }
	before := blocks()
	for round := range 2 {
		if err := p.v.AddDisk(p.ctx, hypervisor.Disk{Path: p.img, Serial: "img9", ReadOnly: true}); err != nil {
			t.Fatalf("round %d: add: %v", round, err)
		}
		if err := p.v.Guest.CreateContainer(p.ctx, protocol.ContainerSpec{ID: "hot", Rootfs: protocol.RootfsSpec{DiskSerial: "img9"}}); err != nil {
			t.Fatalf("round %d: container on the added disk: %v", round, err)
		}
		proc, err := p.v.Guest.Exec(p.ctx, "hot", protocol.InitExec, protocol.ProcessSpec{Args: []string{"echo", "hot"}})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		out, _ := io.ReadAll(proc.Stdout)
		if st, err := proc.Wait(p.ctx); err != nil || st.Code != 0 || string(out) != "hot\n" {
			t.Fatalf("round %d: got %q %+v %v", round, out, st, err)
		}
		proc.Close()
		if err := p.v.Guest.RemoveContainer(p.ctx, "hot"); err != nil {
			t.Fatalf("round %d: remove container: %v", round, err)
		}
		if err := p.v.RemoveDisk(p.ctx, "img9"); err != nil {
			t.Fatalf("round %d: remove disk: %v", round, err)
		}
		// The guest drops the device when QEMU unplugs it.
		for i := 0; blocks() != before; i++ {
			if i == 50 {
				t.Fatalf("round %d: block devices %q after removal, want %q", round, blocks(), before)
			}
			p.sh("c1", "sleep 0.1")
		}
	}
	if err := p.v.AddDisk(p.ctx, hypervisor.Disk{Path: p.img, Serial: "img0", ReadOnly: true}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("adding a second disk with serial img0: %v", err)
	}
	if err := p.v.RemoveDisk(p.ctx, "nosuch"); err != nil {
		t.Errorf("removing a missing disk: %v", err)
	}
}
