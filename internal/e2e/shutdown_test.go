package e2e

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// TestStopUnresponsiveGuest: with an exec waiting on a guest that no longer
// answers (its QEMU is stopped), hyperd exits within stopLimit of SIGTERM,
// the exec's client sees its stream end, and the pod lives on: once its
// QEMU runs again, the next hyperd re-attaches it.
func TestStopUnresponsiveGuest(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "-d", "--name", "frozen", "busybox", "sleep", "3600")
	qemus := podQemusUnder(h.dir)
	if len(qemus) != 1 {
		t.Fatalf("pod QEMUs: %v, want one", qemus)
	}
	if err := syscall.Kill(qemus[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(qemus[0], syscall.SIGCONT) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := exec.CommandContext(ctx, h.ctl, "-H", "unix://"+h.sock, "exec", "frozen", "echo", "hi")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	clientDone := make(chan error, 1)
	go func() { clientDone <- client.Wait() }()
	select {
	case err := <-clientDone:
		t.Fatalf("exec into a stopped guest returned: %v", err)
	case <-time.After(time.Second):
	}

	took, err := h.terminate()
	t.Logf("hyperd exited %v after SIGTERM (%v)", took, err)
	if err != nil {
		t.Errorf("hyperd exited with %v:\n%s", err, h.log)
	}
	select {
	case err := <-clientDone:
		if err == nil {
			t.Error("exec into the stopped guest succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Error("the exec's client still waits after hyperd exited")
	}

	if err := syscall.Kill(qemus[0], syscall.SIGCONT); err != nil {
		t.Fatalf("the pod's QEMU did not outlive hyperd: %v", err)
	}
	h.start()
	if p, err := h.client.GetPod(h.ctx(), "frozen"); err != nil || p.State != types.StateRunning {
		t.Fatalf("after a restart, pod frozen is %s (%v), want it running", p.State, err)
	}
	if out := h.ok("exec", "frozen", "echo", "back"); strings.TrimSpace(out) != "back" {
		t.Errorf("exec after the restart: %q", out)
	}
}

// terminate sends hyperd SIGTERM and waits for it to exit, failing the test
// past stopLimit (then SIGQUIT dumps its goroutines into its log). It
// returns how long hyperd took and its exit error (nil for status 0).
func (h *hyperd) terminate() (time.Duration, error) {
	h.t.Helper()
	start := time.Now()
	h.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- h.cmd.Wait() }()
	select {
	case err := <-exited:
		return time.Since(start).Round(time.Millisecond), err
	case <-time.After(stopLimit):
		h.t.Errorf("hyperd still running %v after SIGTERM: its goroutines follow in its log (SIGQUIT)", stopLimit)
		h.cmd.Process.Signal(syscall.SIGQUIT)
		err := <-exited
		return time.Since(start).Round(time.Millisecond), err
	}
}
