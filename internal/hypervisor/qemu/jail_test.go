package qemu_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/hypervisor/qemu"
	"github.com/hyperhq/hyper/internal/jail"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/testenv"
)

// TestMain makes the test binary the jailer of the jailed VMs.
func TestMain(m *testing.M) {
	jail.Main()
	testenv.Main(m)
}

// jailedDriver is a QEMU driver that jails as the install's user.
func jailedDriver(t *testing.T) (*qemu.Driver, jail.Identity) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "jailing needs root")
	}
	u, err := jail.LookupUser("hyper-qemu")
	if err != nil {
		testenv.Unavailable(t, "%v (hack/install-deps.sh)", err)
	}
	return qemu.New(qemu.Options{Sandbox: true, TCGBufferMB: 128, Jail: &qemu.Jail{User: u, Cgroup: true, MemoryOverheadMB: 320, Pids: 1024}}), u
}

// TestJailedVM boots a VM jailed, with a share, a boot disk and a hot-added
// one, and checks what its QEMU is, sees and may touch.
func TestJailedVM(t *testing.T) {
	env := testenv.New(t)
	drv, u := jailedDriver(t)
	dir, share, other := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(share, "f"), []byte("x"), 0o600)
	secret := filepath.Join(other, "secret.img") // another pod's disk
	os.WriteFile(secret, make([]byte, 1<<20), 0o600)
	spec := hypervisor.Spec{
		ID: "jailtest", StateDir: dir, VCPUs: 1, MemoryMB: 256, Kernel: env.Config.Kernel, Accel: env.Config.Accel,
		Disks:    []hypervisor.Disk{{Path: testenv.ScratchDisk(t, 64), Serial: "scratch", Hotplug: true}},
		Shares:   []hypervisor.Share{{Tag: protocol.PodShareTag, Path: share}},
		Channels: []hypervisor.Channel{{Name: protocol.PortName, SocketPath: filepath.Join(dir, "hyper.sock")}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := drv.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}
	var cg string // once QEMU runs
	defer func() {
		v.Kill()
		v.Wait(ctx)
		if _, err := os.Stat(jail.CgroupOf(cg)); cg != "" && !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", jail.CgroupOf(cg), err)
		}
	}()
	// The hot plug waits on QMP: QEMU is up, exec'd, filtering.
	hp := v.(hypervisor.DiskHotplugger)
	if err := hp.AddDisk(ctx, hypervisor.Disk{Path: testenv.ScratchDisk(t, 64), Serial: "added"}); err != nil {
		t.Fatalf("hot-adding a disk to a jailed QEMU: %v\n%s", err, qemuLog(dir))
	}
	if err := hp.RemoveDisk(ctx, "added"); err != nil {
		t.Fatal(err)
	}
	if err := hp.RemoveDisk(ctx, "scratch"); err != nil {
		t.Fatal(err)
	}
	pid := v.Pid()
	if cg, err = jail.ProcessCgroup(pid); err != nil || !strings.HasPrefix(cg, spec.ID+"-") {
		t.Fatalf("qemu's cgroup: %q, %v", cg, err)
	}
	// The guest boots: QEMU read its boot files, writes its console.
	for c := []byte(nil); !strings.Contains(string(c), "hyperstart ready"); c, _ = os.ReadFile(filepath.Join(dir, "console.log")) {
		select {
		case <-ctx.Done():
			t.Fatalf("the guest did not come up: %s\n%s", c, qemuLog(dir))
		case <-time.After(50 * time.Millisecond):
		}
	}
	st := status(t, pid)
	if st["Uid"] != strconv.Itoa(u.UID) || st["Seccomp"] != "2" || st["NoNewPrivs"] != "1" {
		t.Errorf("qemu runs as uid %s, seccomp %s, no_new_privs %s", st["Uid"], st["Seccomp"], st["NoNewPrivs"])
	}
	root, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "root"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range root {
		if !slices.Contains([]string{"usr", "lib", "lib64", "bin", "sbin", "etc", "dev", "proc", "tmp", "work", "var", "root"}, e.Name()) {
			t.Errorf("the jail's root has %s", e.Name())
		}
	}
	// From inside: the share is there, the state dir is not.
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "root", share, "f")); err != nil {
		t.Errorf("share not in the jail: %v", err)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "root", dir, "hyper.sock")); !os.IsNotExist(err) {
		t.Errorf("the state dir is in the jail: %v", err)
	}
	procs, _ := os.ReadFile(filepath.Join(jail.CgroupOf(cg), "cgroup.procs"))
	if !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(pid)) {
		t.Errorf("qemu %d not in its cgroup: %q", pid, procs)
	}
	// As the QEMU user, on the host: another pod's disk is out of reach.
	for _, p := range []string{secret, spec.Disks[0].Path} {
		if canAccess(t, u, "-w", p) || canAccess(t, u, "-r", p) {
			t.Errorf("user %s can read or write %s", u.Name, p)
		}
	}
}

// canAccess runs test(1) as u: op "-r" or "-w".
func canAccess(t *testing.T, u jail.Identity, op, path string) bool {
	cmd := exec.Command("test", op, path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}}
	return cmd.Run() == nil
}

func status(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				m[k] = f[0]
			}
		}
	}
	return m
}

func qemuLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "qemu.log"))
	return string(b)
}

// TestJailKVMAccess: a jailed KVM VM whose user may not open /dev/kvm
// fails clearly at start.
func TestJailKVMAccess(t *testing.T) {
	drv, _ := jailedDriver(t)
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/kvm", &st); err != nil || st.Mode&0o066 != 0 {
		t.Skip("needs a /dev/kvm only its owner may open")
	}
	dir := t.TempDir()
	v, err := drv.Create(context.Background(), hypervisor.Spec{ID: "kvmtest", StateDir: dir, VCPUs: 1, MemoryMB: 64,
		Kernel: hypervisor.Kernel{Path: "/usr/bin/true"}, Accel: hypervisor.Accel{Kind: hypervisor.AccelKVM}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Start(context.Background()); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "/dev/kvm") {
		t.Fatalf("start: %v, want Unavailable naming /dev/kvm", err)
	}
}

// BenchmarkJailFloor attributes the jail's start and stop cost: the boot
// floor (QEMU start -> a busybox /init powered off -> QEMU reaped) with the
// plain driver, with -sandbox only, jailed without a cgroup, and jailed
// with one (the default), interleaved. Run with -benchtime 1x.
func BenchmarkJailFloor(b *testing.B) {
	env := testenv.New(b)
	if os.Geteuid() != 0 {
		testenv.Unavailable(b, "jailing needs root")
	}
	u, err := jail.LookupUser("hyper-qemu")
	if err != nil {
		testenv.Unavailable(b, "%v", err)
	}
	rd := testenv.FloorInitrd(b)
	os.Chmod(rd, 0o644) // QEMU's user reads it
	modes := []struct {
		name string
		opts qemu.Options
	}{
		{"plain", qemu.Options{}},
		{"sandbox", qemu.Options{Sandbox: true}},
		{"jail, no cgroup", qemu.Options{Sandbox: true, Jail: &qemu.Jail{User: u}}},
		{"jail + cgroup", qemu.Options{Sandbox: true, Jail: &qemu.Jail{User: u, Cgroup: true, MemoryOverheadMB: 320, Pids: 1024}}},
	}
	took := make([][]time.Duration, len(modes))
	for i := 0; i < testenv.Runs(); i++ {
		for m, mode := range modes {
			e := env
			e.Config.Driver = qemu.New(mode.opts)
			took[m] = append(took[m], testenv.BootFloor(b, e, rd, i))
		}
	}
	b.Logf("boot floor, %d runs each:", testenv.Runs())
	for m, mode := range modes {
		b.Logf("  %-16s p50 %4dms p90 %4dms", mode.name, testenv.Pct(took[m], 50).Milliseconds(), testenv.Pct(took[m], 90).Milliseconds())
	}
}

// TestJailUserMissing: a driver configured to jail as a user that does not
// exist is refused (hyperd fails at start).
func TestJailUserMissing(t *testing.T) {
	_, err := hypervisor.New(qemu.DriverName, hypervisor.Options{Jail: hypervisor.Jail{User: "no-such-user-hyper"}})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "install-deps") {
		t.Fatalf("got %v, want NotFound pointing at hack/install-deps.sh", err)
	}
}
