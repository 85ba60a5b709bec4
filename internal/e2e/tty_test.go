package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestRunTTY drives `hyperctl run -it` through a pseudo-terminal, as a
// person at a terminal would: the process sees a tty of the terminal's
// size, and a resize of the local terminal reaches it.
func TestRunTTY(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	cmd := exec.Command(h.ctl, "-H", "unix://"+h.sock, "run", "--rm", "-it", "busybox", "sh", "-c",
		`tty >/dev/null && echo "is a tty"; stty size; read line; stty size; echo "got $line"`)
	ptmx, screen := startPTY(t, cmd)
	seen := func(s string) bool { return strings.Contains(screen(), s) }
	waitFor(t, time.Minute, "the first stty size", func() bool { return seen("24 80") })
	if !seen("is a tty") {
		t.Errorf("process does not see a terminal: %q", screen())
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // SIGWINCH -> resize request
	io.WriteString(ptmx, "hello\r")
	waitFor(t, 30*time.Second, "the resized stty size", func() bool { return seen("40 132") && seen("got hello") })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("hyperctl run -it: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("hyperctl run -it did not exit")
	}
}

// startPTY starts cmd on a new 24x80 pseudo-terminal, closed when the
// test ends, and returns it and a function that returns what cmd has
// written to it so far.
func startPTY(t *testing.T, cmd *exec.Cmd) (*os.File, func() string) {
	t.Helper()
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close() })
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return ptmx, func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
}

// TestRunRmCycles: 50 run --rm cycles leave no process, file descriptor,
// file or socket behind.
func TestRunRmCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	h := newHyperd(t)
	h.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // warm up: image rootfs built once
	fdsBefore := countFDs(t, h.cmd.Process.Pid)
	for i := 0; i < 50; i++ {
		if out, errs, code := h.run("", "run", "--rm", "busybox", "echo", "cycle"); code != 0 || out != "cycle\n" {
			t.Fatalf("cycle %d: exit %d out %q err %q", i, code, out, errs)
		}
	}
	if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("pods left: %q", ps)
	}
	// The last pod's VM may still be powering off.
	waitFor(t, 10*time.Second, "the last VM to power off", func() bool { return len(podQemusUnder(h.dir)) == 0 })
	if fds := countFDs(t, h.cmd.Process.Pid); fds > fdsBefore+2 {
		t.Errorf("hyperd holds %d fds after 50 cycles, %d before", fds, fdsBefore)
	}
	for _, dir := range []string{"run/vms", "root/pods"} {
		waitFor(t, 5*time.Second, dir+" to empty", func() bool {
			ents, _ := os.ReadDir(h.dir + "/" + dir)
			return len(ents) == 0
		})
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mounts, []byte(h.dir)) {
		t.Errorf("mounts left under %s", h.dir)
	}
}

func countFDs(t *testing.T, pid int) int {
	ents, err := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func itoa(i int) string { return strconv.Itoa(i) }
