package cgroup

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestSetLimits(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cpu.max", "memory.max", "pids.max"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("untouched"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	u := func(v uint64) *uint64 { return &v }
	g := Group{Path: dir}
	if err := g.SetLimits(protocol.Resources{CPUQuotaUsec: u(50000), MemoryMaxBytes: u(64 << 20)}); err != nil {
		t.Fatal(err)
	}
	if got := read("cpu.max"); got != "50000 100000" {
		t.Errorf("cpu.max = %q", got)
	}
	if got := read("memory.max"); got != "67108864" {
		t.Errorf("memory.max = %q", got)
	}
	if got := read("pids.max"); got != "untouched" {
		t.Errorf("pids.max = %q, want it untouched", got)
	}
	if err := g.SetLimits(protocol.Resources{CPUQuotaUsec: u(0), CPUPeriodUsec: 200000, MemoryMaxBytes: u(0), PidsMax: u(10)}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"cpu.max": "max 200000", "memory.max": "max", "pids.max": "10"} {
		if got := read(f); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if err := (Group{Path: filepath.Join(dir, "gone")}).SetLimits(protocol.Resources{PidsMax: u(1)}); err == nil {
		t.Error("no error for a missing cgroup")
	}
}
