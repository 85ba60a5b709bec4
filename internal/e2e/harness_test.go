package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hyperd is a running daemon under test.
type hyperd struct {
	t      testing.TB
	env    testenv.Env
	dir    string // root, socket, run dir
	sock   string
	cmd    *exec.Cmd
	bin    string      // hyperd binary ("" for testenv's build)
	log    *syncBuffer // hyperd's stdout and stderr, of every start
	ctl    string      // hyperctl binary
	client *client.Client
	config string // hyperd's TOML configuration ("" for none)
	netns  string // network namespace hyperd runs in ("" for the test's)

	args []string // more hyperd flags
	wd   string   // hyperd's working directory ("" for the test's)
}

func newHyperd(t testing.TB) *hyperd {
	t.Helper()
	return newHyperdConfig(t, "")
}

// newHyperdConfig starts hyperd with config as its configuration file.
func newHyperdConfig(t testing.TB, config string) *hyperd {
	t.Helper()
	return newHyperdIn(t, config, "")
}

// newHyperdIn starts hyperd with config in network namespace netns.
func newHyperdIn(t testing.TB, config, netns string) *hyperd {
	t.Helper()
	return launch(t, &hyperd{config: config, netns: netns})
}

// launch starts hyperd as h says (binary, config, netns), filling in the
// rest.
func launch(t testing.TB, h *hyperd) *hyperd {
	t.Helper()
	env := testenv.New(t)
	// A short dir: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "hye2e-")
	if err != nil {
		t.Fatal(err)
	}
	h.t, h.env, h.dir, h.sock, h.ctl = t, env, dir, filepath.Join(dir, "h.sock"), testenv.Binary(t, "./cmd/hyperctl")
	if h.bin == "" {
		h.bin = testenv.Binary(t, "./cmd/hyperd")
	}
	h.client = client.New(h.sock)
	h.start()
	t.Cleanup(h.cleanup)
	return h
}

// start launches hyperd and waits until it answers.
func (h *hyperd) start() {
	h.t.Helper()
	if h.log == nil {
		h.log = &syncBuffer{}
	} else {
		fmt.Fprintf(h.log, "--- hyperd started again ---\n") // one log across restarts
	}
	cfg := "/dev/null"
	if h.config != "" {
		cfg = filepath.Join(h.dir, "hyperd.toml")
		if err := os.WriteFile(cfg, []byte(h.config), 0o600); err != nil {
			h.t.Fatal(err)
		}
	}
	args := []string{h.bin, "--config", cfg, "--root", filepath.Join(h.dir, "root"), "--socket", h.sock,
		"--run-dir", filepath.Join(h.dir, "run"), "--kernel", h.env.Config.Kernel.Path,
		"--initrd", h.env.Config.Kernel.Initrd, "--accel", h.env.Config.Accel.Kind}
	args = append(args, h.args...)
	if h.netns != "" {
		args = append([]string{"ip", "netns", "exec", h.netns}, args...) // ip execs hyperd: same PID
	}
	h.cmd = exec.Command(args[0], args[1:]...)
	h.cmd.Dir = h.wd
	h.cmd.Stdout, h.cmd.Stderr = h.log, h.log
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", h.sock); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("hyperd did not start: %s", h.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer that may be read while hyperd writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// kill9 kills hyperd as a crash would.
func (h *hyperd) kill9() {
	h.cmd.Process.Kill()
	h.cmd.Wait()
}

// cleanup removes every pod, stops hyperd, and checks nothing is left.
func (h *hyperd) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if h.cmd.ProcessState == nil {
		pods, _ := h.client.ListPods(ctx, true)
		for _, p := range pods {
			if err := h.client.RemovePod(ctx, p.ID, true); err != nil {
				h.t.Errorf("removing pod %s: %v", p.Name, err)
			}
		}
		h.cmd.Process.Signal(syscall.SIGTERM)
		h.cmd.Wait()
	}
	if left := qemusUnder(h.dir); len(left) > 0 {
		h.t.Errorf("QEMU processes left behind: %v", left)
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// The pod core logs a state change its state machine refuses: a bug.
	if strings.Contains(h.log.String(), "refused a state change") {
		h.t.Errorf("hyperd refused a pod or container state change")
	}
	if h.t.Failed() {
		h.t.Logf("hyperd log:\n%s", h.log)
	}
	os.RemoveAll(h.dir)
}

// qemusUnder lists QEMU processes whose command line mentions dir.
func qemusUnder(dir string) []int { return qemus(dir, true) }

// podQemusUnder is qemusUnder without the VM hyperd builds a template
// with, in the background at start (docs/adr/0009-vm-templates.md).
func podQemusUnder(dir string) []int { return qemus(dir, false) }

func qemus(dir string, templates bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("qemu-system")) || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if templates || !bytes.Contains(b, []byte("\x00hyper-template\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// run runs hyperctl with stdin and returns stdout, stderr and exit code.
func (h *hyperd) run(stdin string, args ...string) (string, string, int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.ctl, append([]string{"-H", "unix://" + h.sock}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("hyperctl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs hyperctl and fails the test unless it exits 0.
func (h *hyperd) ok(args ...string) string {
	h.t.Helper()
	out, errs, code := h.run("", args...)
	if code != 0 {
		h.t.Fatalf("hyperctl %v: exit %d: %s%s", args, code, out, errs)
	}
	return out
}

// loadBusybox loads a busybox image built from the host's busybox-static.
func (h *hyperd) loadBusybox() {
	h.t.Helper()
	f := filepath.Join(h.t.TempDir(), "busybox.tar")
	w, err := os.Create(f)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := devimage.BusyboxArchive(w, "busybox:latest"); err != nil {
		h.t.Fatal(err)
	}
	w.Close()
	if out := h.ok("load", "-i", f); !strings.Contains(out, "busybox") {
		h.t.Fatalf("load said %q", out)
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// ctx is a context for one client call.
func (h *hyperd) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	h.t.Cleanup(cancel)
	return ctx
}
