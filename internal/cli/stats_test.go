package cli

import (
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestPodStatsRows(t *testing.T) {
	p := types.Pod{ID: "0123456789abcdef", Name: "web", Containers: []types.Container{{Name: "a"}, {Name: "b"}, {Name: "i", Init: true}}}
	t0 := time.Now()
	vm := types.VMStats{MemTotalBytes: 256 << 20, HostRSSBytes: 100 << 20}
	prev := &types.PodStats{Read: t0, GuestNanos: 1e9, VM: vm,
		Containers: []types.ContainerStats{{Name: "a", CPU: types.CPUStats{UsageNanos: 1e9}}, {Name: "b"}}}
	vm.HostCPUNanos = 250e6
	cur := &types.PodStats{Read: t0.Add(time.Second), GuestNanos: 2e9, VM: vm,
		Networks: []types.NetworkStats{{Name: "eth0", RxBytes: 1500, TxBytes: 2000}},
		Containers: []types.ContainerStats{
			{Name: "a", CPU: types.CPUStats{UsageNanos: 1.5e9}, Memory: types.MemoryStats{Usage: 3 << 20, InactiveFile: 1 << 20},
				Pids: types.PidsStats{Current: 2}, BlockIO: types.BlockIOStats{ReadBytes: 1e6}},
			{Name: "b", Memory: types.MemoryStats{Usage: 64 << 20, Limit: 128 << 20}}}}
	rows := podStatsRows(p, prev, cur, false)
	if len(rows) != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	a, b := rows[0], rows[1]
	want := statsRow{ID: "0123456789ab", Container: "0123456789ab", Name: "web/a", CPUPerc: "50.00%", MemUsage: "2MiB / 256MiB",
		MemPerc: "0.78%", NetIO: "1.5kB / 2kB", BlockIO: "1MB / 0B", PIDs: "2", VMCPUPerc: "25.00%", VMMem: "100MiB"}
	if a != want {
		t.Errorf("row a:\n got %+v\nwant %+v", a, want)
	}
	if b.MemUsage != "64MiB / 128MiB" || b.MemPerc != "50.00%" || b.CPUPerc != "0.00%" {
		t.Errorf("row b: %+v", b)
	}
	// A counter going back (a restarted container) is no negative rate.
	if rows := podStatsRows(p, cur, prev, false); rows[0].CPUPerc != "0.00%" {
		t.Errorf("backwards: %+v", rows[0])
	}
	if single := (types.Pod{Name: "one", Containers: []types.Container{{Name: "one"}}}); statsName(single, "one") != "one" {
		t.Error("a single container's row is not named after its pod")
	}
}
