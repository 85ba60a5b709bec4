package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/bootimage"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// FloorInitrd writes the boot floor's initramfs: a busybox /init that
// powers off at once.
func FloorInitrd(tb testing.TB) string {
	tb.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		Unavailable(tb, "busybox-static not installed")
	}
	rd := filepath.Join(tb.TempDir(), "floor.img")
	if err := bootimage.WritePoweroff(rd, bb); err != nil {
		tb.Fatal(err)
	}
	return rd
}

// BootFloor boots the same kernel with the floor initramfs and returns the
// time from QEMU start to QEMU exit.
func BootFloor(tb testing.TB, env Env, initrd string, i int) time.Duration {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "floor")
	os.MkdirAll(dir, 0o700)
	k := env.Config.Kernel
	k.Initrd = initrd
	v, err := env.Config.Driver.Create(context.Background(), hypervisor.Spec{
		ID: fmt.Sprintf("floor%d", i), StateDir: dir, VCPUs: 1, MemoryMB: 256, Kernel: k, Accel: env.Config.Accel,
	})
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := v.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := v.Wait(ctx)
	if err != nil || info.ExitCode != 0 {
		v.Kill()
		tb.Fatalf("floor vm: %+v, %v", info, err)
	}
	return time.Since(start)
}

// Pct returns the p-th percentile (nearest rank below) of d.
func Pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

// Runs is how many runs a benchmark makes: $HYPER_BENCH_RUNS, default 10.
func Runs() int {
	n := 10
	if _, err := fmt.Sscan(os.Getenv("HYPER_BENCH_RUNS"), &n); err != nil || n < 1 {
		n = 10
	}
	return n
}

// PSSKiB returns a process's proportional set size from smaps_rollup.
func PSSKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			var kb int
			fmt.Sscan(f[1], &kb)
			return kb, nil
		}
	}
	return 0, fmt.Errorf("no Pss in smaps_rollup of %d", pid)
}
