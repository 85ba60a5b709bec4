package vm_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/bootimage"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/testenv"
	"github.com/hyperhq/hyper/internal/vm"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var vmSeq atomic.Int32

// testPod is a booted VM with a pod created in it.
type testPod struct {
	t   *testing.T
	v   *vm.VM
	ctx context.Context
	img string
}

// bootPod boots a VM with the busybox image as SCSI disk "img0" and a
// virtio-blk scratch disk, creates the pod, and checks at cleanup that nothing is left.
func bootPod(t *testing.T) *testPod {
	t.Helper()
	env := testenv.New(t)
	img := testenv.BusyboxImage(t)
	scratch := testenv.ScratchDisk(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	v, err := vm.Boot(ctx, env.Config, vm.Spec{
		ID: fmt.Sprintf("t%d-%d", os.Getpid(), vmSeq.Add(1)),
		Disks: []hypervisor.Disk{
			{Path: img, Serial: "img0", ReadOnly: true, Hotplug: true},
			{Path: scratch, Serial: "scratch0"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdownAndCheck(t, v) })
	if err := v.Guest.CreatePod(ctx, protocol.PodSpec{Hostname: "testpod", ScratchDisk: "scratch0",
		DNS: protocol.DNSConfig{Servers: []string{"10.0.2.3"}}}); err != nil {
		t.Fatal(err)
	}
	return &testPod{t: t, v: v, ctx: ctx, img: img}
}

// shutdownAndCheck powers the VM off and checks that no QEMU process, socket
// or state file is left.
func shutdownAndCheck(t *testing.T, v *vm.VM) {
	pid := v.Pid()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("qemu %d still running after shutdown", pid)
	}
	if _, err := os.Stat(v.Dir); !os.IsNotExist(err) {
		t.Errorf("vm state dir %s left behind", v.Dir)
	}
}

// container creates a container whose init runs args, draining its output.
func (p *testPod) container(id string, args ...string) *guest.Process {
	p.t.Helper()
	if err := p.v.Guest.CreateContainer(p.ctx, protocol.ContainerSpec{ID: id, Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}}); err != nil {
		p.t.Fatal(err)
	}
	proc, err := p.v.Guest.Exec(p.ctx, id, protocol.InitExec, protocol.ProcessSpec{Args: args})
	if err != nil {
		p.t.Fatal(err)
	}
	go io.Copy(io.Discard, proc.Stdout)
	go io.Copy(io.Discard, proc.Stderr)
	return proc
}

var execSeq atomic.Int32

// result is what a finished process left.
type result struct {
	stdout, stderr string
	status         protocol.ExitStatus
}

// run runs a process in container to completion, feeding it stdin.
func (p *testPod) run(container string, spec protocol.ProcessSpec, stdin string) result {
	p.t.Helper()
	spec.Stdin = stdin != ""
	proc, err := p.v.Guest.Exec(p.ctx, container, fmt.Sprintf("e%d", execSeq.Add(1)), spec)
	if err != nil {
		p.t.Fatalf("exec %v: %v", spec.Args, err)
	}
	defer proc.Close()
	var out, errb bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); io.Copy(&out, proc.Stdout) }()
	if proc.Stderr != nil {
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(&errb, proc.Stderr) }()
	}
	if proc.Stdin != nil {
		io.WriteString(proc.Stdin, stdin)
		proc.Stdin.Close()
	}
	st, err := proc.Wait(p.ctx)
	if err != nil {
		p.t.Fatalf("wait %v: %v", spec.Args, err)
	}
	wg.Wait()
	return result{out.String(), errb.String(), st}
}

// sh runs a shell command line in container and returns its stdout, failing
// the test on a non-zero exit.
func (p *testPod) sh(container, script string) string {
	p.t.Helper()
	r := p.run(container, protocol.ProcessSpec{Args: []string{"sh", "-c", script}}, "")
	if r.status.Code != 0 {
		p.t.Fatalf("%q: exit %+v, stderr %q", script, r.status, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

// writeInitrd packs a busybox-based /init script into an initramfs, for
// guests that misbehave on purpose.
func writeInitrd(t *testing.T, script string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bad-initrd.img")
	if err := writeBusyboxInitrd(out, script); err != nil {
		testenv.Unavailable(t, "%v", err)
	}
	return out
}

func writeBusyboxInitrd(out, script string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static not installed: %w", err)
	}
	return bootimage.WriteBusyboxScript(out, bb, script)
}
