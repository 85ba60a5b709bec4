package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// TestAttachKill: a process named like VM x's QEMU, in a session of its
// own, is owned, attached and killed as x; other processes are not.
func TestAttachKill(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30; :", "-name", vmName("x"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer cmd.Process.Kill()
	d, pid := New(Options{TSCKHz: 1}), cmd.Process.Pid
	x := hypervisor.Spec{ID: "x"}
	// Between fork and exec the child's command line is still the test's.
	for deadline := time.Now().Add(5 * time.Second); !d.Owns(x, pid) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if !d.Owns(x, pid) || d.Owns(hypervisor.Spec{ID: "y"}, pid) || d.Owns(x, os.Getpid()) {
		t.Fatal("Owns recognises the wrong processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.Attach(ctx, x, os.Getpid()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("attaching another process: %v, want not found", err)
	}
	v, err := d.Attach(ctx, x, pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited // reaped here; the pidfd sees it end
	if info, err := v.Wait(ctx); err != nil || info.ExitCode != -1 {
		t.Errorf("wait: %+v, %v", info, err)
	}
}
