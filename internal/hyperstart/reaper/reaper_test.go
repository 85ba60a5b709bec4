package reaper

import (
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// One reaper for the whole test binary: two would steal each other's
// children.
var r = func() *Reaper {
	r := New()
	go r.Run()
	return r
}()

func TestStartAndReap(t *testing.T) {
	pid, ch, err := r.Start(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 3"}, &syscall.ProcAttr{})
	})
	if err != nil {
		t.Skipf("cannot start /bin/sh: %v", err)
	}
	select {
	case ws := <-ch:
		if code, sig := ExitCode(ws); code != 3 || sig != 0 {
			t.Fatalf("pid %d: got code %d sig %d, want 3 0", pid, code, sig)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit status")
	}
	if r.Running(pid) {
		t.Fatal("pid still registered")
	}
	if err := r.Kill(pid, unix.SIGTERM); err != unix.ESRCH {
		t.Fatalf("Kill after exit: %v", err)
	}
}

func TestSignalled(t *testing.T) {
	pid, ch, err := r.Start(func() (int, error) {
		return syscall.ForkExec("/bin/sleep", []string{"sleep", "100"}, &syscall.ProcAttr{})
	})
	if err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	if err := r.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ws := <-ch
	if code, sig := ExitCode(ws); code != 137 || sig != 9 {
		t.Fatalf("got %d %d", code, sig)
	}
}
