// Package devrun runs one command in a fresh pod VM and powers the VM off:
// the developer command's "run", until hyperd and hyperctl take over.
package devrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/disk"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Options describe one run.
type Options struct {
	Config vm.Config
	// Image is an EROFS root filesystem; empty builds a busybox one.
	Image   string
	Process protocol.ProcessSpec
	Stdin   io.Reader // used when Process.Stdin
	Stdout  io.Writer
	Stderr  io.Writer
}

// Run boots a VM, runs the process as a container's init, and powers off.
func Run(ctx context.Context, o Options) (protocol.ExitStatus, error) {
	var st protocol.ExitStatus
	tmp, err := os.MkdirTemp("", "hyperdev-")
	if err != nil {
		return st, err
	}
	defer os.RemoveAll(tmp)
	if o.Image == "" {
		o.Image = filepath.Join(tmp, "busybox.erofs")
		root := filepath.Join(tmp, "rootfs")
		if err := devimage.BusyboxRootfs(root); err != nil {
			return st, err
		}
		if err := devimage.ErofsImage(root, o.Image); err != nil {
			return st, err
		}
	}
	scratch := filepath.Join(tmp, "scratch.ext4")
	if err := disk.CreateExt4(scratch, 256); err != nil {
		return st, err
	}
	v, err := vm.Boot(ctx, o.Config, vm.Spec{
		ID: fmt.Sprintf("dev-%d", os.Getpid()),
		Disks: []hypervisor.Disk{
			{Path: o.Image, Serial: "img0", ReadOnly: true},
			{Path: scratch, Serial: "scratch0"},
		},
	})
	if err != nil {
		return st, err
	}
	defer v.Shutdown(context.WithoutCancel(ctx))
	g := v.Guest
	if err := g.CreatePod(ctx, protocol.PodSpec{Hostname: "hyper-dev", ScratchDisk: "scratch0"}); err != nil {
		return st, err
	}
	if err := g.CreateContainer(ctx, protocol.ContainerSpec{ID: "main", Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}}); err != nil {
		return st, err
	}
	p, err := g.Exec(ctx, "main", protocol.InitExec, o.Process)
	if err != nil {
		return st, err
	}
	defer p.Close()
	var wg sync.WaitGroup
	copyOut := func(w io.Writer, r io.Reader) {
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(w, r) }()
	}
	copyOut(o.Stdout, p.Stdout)
	if p.Stderr != nil {
		copyOut(o.Stderr, p.Stderr)
	}
	if p.Stdin != nil && o.Stdin != nil {
		go func() { io.Copy(p.Stdin, o.Stdin); p.Stdin.Close() }()
	}
	st, err = p.Wait(ctx)
	wg.Wait()
	return st, err
}
