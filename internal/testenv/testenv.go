// Package testenv gives integration tests and benchmarks what they need to
// boot real VMs: the kernel, an initramfs with the current hyperstart built
// from this checkout, the QEMU driver and test images. When QEMU or the
// kernel is missing, tests are skipped with the reason; under CI (CI=true)
// they fail instead, since CI must run them.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hyperhq/hyper/internal/bootimage"
	"github.com/hyperhq/hyper/internal/devimage"
	"github.com/hyperhq/hyper/internal/disk"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/hypervisor/qemu"
	"github.com/hyperhq/hyper/internal/vm"
)

// Root is the checkout's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "../.."))
}

var (
	shared     string // per-process scratch dir, removed by Main
	sharedOnce sync.Once
	initrdOnce sync.Once
	initrd     string
	initrdErr  error
)

// Main runs the tests and removes what testenv built.
func Main(m *testing.M) {
	code := m.Run()
	if shared != "" {
		os.RemoveAll(shared)
	}
	os.Exit(code)
}

func sharedDir() string {
	sharedOnce.Do(func() {
		d, err := os.MkdirTemp("", "hyper-testenv-")
		if err != nil {
			panic(err)
		}
		shared = d
	})
	return shared
}

// Unavailable skips t, or fails it under CI.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("required for CI: %s", msg)
	}
	tb.Skip("skipping: " + msg)
}

// KernelPath returns $HYPER_KERNEL, or the cached hyperkernel that
// `make kernel` (hack/kernel/build.sh) builds.
func KernelPath() (string, error) {
	if k := os.Getenv("HYPER_KERNEL"); k != "" {
		return k, nil
	}
	out, err := exec.Command("bash", filepath.Join(Root(), "hack/kernel/build.sh"), "--print-path").Output()
	if err != nil {
		return "", fmt.Errorf("hack/kernel/build.sh --print-path: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// Initrd returns $HYPER_INITRD, or builds hyperstart from this checkout and
// packs it, once per process.
func Initrd() (string, error) {
	if rd := os.Getenv("HYPER_INITRD"); rd != "" {
		return rd, nil
	}
	initrdOnce.Do(func() {
		dir := sharedDir()
		bin := filepath.Join(dir, "hyperstart")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/hyperstart")
		cmd.Dir = Root()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			initrdErr = fmt.Errorf("building hyperstart: %v: %s", err, out)
			return
		}
		initrd = filepath.Join(dir, "initrd.img")
		initrdErr = bootimage.WriteHyperstart(initrd, bin, Busybox())
	})
	return initrd, initrdErr
}

// Env is everything needed to boot VMs.
type Env struct {
	Config vm.Config
}

// New returns an Env, or skips (fails under CI) when QEMU or the kernel is
// missing.
func New(tb testing.TB) Env {
	tb.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		Unavailable(tb, "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
	}
	k, err := KernelPath()
	if err != nil {
		Unavailable(tb, "locating the kernel: %v", err)
	}
	if _, err := os.Stat(k); err != nil {
		Unavailable(tb, "no guest kernel at %s (run `make kernel`)", k)
	}
	rd, err := Initrd()
	if err != nil {
		tb.Fatal(err)
	}
	accel, err := hypervisor.ChooseAccel(hypervisor.AccelRequest{Mode: os.Getenv("HYPER_ACCEL")}, hypervisor.ProbeHost())
	if err != nil {
		tb.Fatal(err)
	}
	run := filepath.Join(sharedDir(), "run")
	return Env{Config: vm.Config{
		Driver: qemu.New(qemu.Options{}),
		Kernel: hypervisor.Kernel{Path: k, Initrd: rd},
		Accel:  accel,
		RunDir: run,
	}}
}

// BusyboxImage returns a busybox EROFS image in the test's temp dir.
func BusyboxImage(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, tool := range []string{"busybox", "mkfs.erofs"} {
		if _, err := exec.LookPath(tool); err != nil {
			Unavailable(tb, "%s not installed (make deps)", tool)
		}
	}
	if err := devimage.BusyboxRootfs(root); err != nil {
		tb.Fatal(err)
	}
	img := filepath.Join(dir, "busybox.erofs")
	if err := devimage.ErofsImage(root, img); err != nil {
		tb.Fatal(err)
	}
	return img
}

// ScratchDisk creates a sparse ext4 disk of sizeMB in the test's temp dir.
func ScratchDisk(tb testing.TB, sizeMB int) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "scratch.ext4")
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		Unavailable(tb, "mkfs.ext4 not installed (make deps)")
	}
	if err := disk.CreateExt4(p, sizeMB); err != nil {
		tb.Fatal(err)
	}
	return p
}

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
)

// Binary builds the command at pkg (e.g. "./cmd/hyperd") once per process
// and returns its path.
func Binary(tb testing.TB, pkg string) string {
	tb.Helper()
	return build(tb, pkg, "")
}

// RaceBinary is Binary built with the race detector: the program writes
// "WARNING: DATA RACE" and the two stacks to stderr on each race it sees.
func RaceBinary(tb testing.TB, pkg string) string {
	tb.Helper()
	return build(tb, pkg, "-race")
}

func build(tb testing.TB, pkg, flag string) string {
	tb.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	key := pkg + " " + flag
	if p, ok := binPaths[key]; ok {
		return p
	}
	out := filepath.Join(sharedDir(), filepath.Base(pkg)+flag)
	args := []string{"build", "-o", out}
	if flag != "" {
		args = append(args, flag)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = Root()
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building %s %s: %v: %s", pkg, flag, err, b)
	}
	binPaths[key] = out
	return out
}

// Busybox is the host's static busybox ("" if there is none), put in the
// test initramfs as the VM's own tools, as `make initrd` does.
func Busybox() string {
	p, _ := exec.LookPath("busybox")
	return p
}
