package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStatsResultCheck(t *testing.T) {
	ok := StatsResult{CPUs: 1, Containers: []ContainerStats{{Container: "a"}, {Container: "b"}},
		Network: []InterfaceStats{{Name: "eth0"}}}
	if err := ok.Check(nil); err != nil {
		t.Errorf("good result: %v", err)
	}
	if err := ok.Check([]string{"a"}); err == nil {
		t.Error("a container not asked for passed")
	}
	bad := []StatsResult{
		{Containers: []ContainerStats{{Container: "a"}, {Container: "a"}}},
		{Containers: []ContainerStats{{Container: ""}}},
		{Containers: []ContainerStats{{Container: strings.Repeat("x", MaxStatsName+1)}}},
		{Network: []InterfaceStats{{Name: ""}}},
		{Network: make([]InterfaceStats, MaxStatsInterfaces+1)},
		{Containers: make([]ContainerStats, MaxStatsContainers+1)},
		{CPUs: -1},
	}
	for i, r := range bad {
		if err := r.Check(nil); err == nil {
			t.Errorf("bad result %d passed", i)
		}
	}
}

// FuzzStatsResult decodes a guest's Stats reply as the host does and
// checks it: neither may panic, and a checked result stays in bounds.
func FuzzStatsResult(f *testing.F) {
	f.Add([]byte(`{"readNanos":1,"containers":[{"container":"a","cpu":{"usageUsec":5},"memory":{"usageBytes":3}}],"network":[{"name":"eth0","rxBytes":1}],"cpus":1}`))
	f.Add([]byte(`{"containers":[{"container":"a"},{"container":"a"}]}`))
	f.Add([]byte(`{"cpus":-5,"memTotalBytes":18446744073709551615}`))
	f.Add([]byte(`{"containers":null,"network":[{"name":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r StatsResult
		if json.Unmarshal(b, &r) != nil {
			return
		}
		if r.Check(nil) != nil {
			return
		}
		if len(r.Containers) > MaxStatsContainers || len(r.Network) > MaxStatsInterfaces {
			t.Fatalf("checked result out of bounds: %d containers, %d interfaces", len(r.Containers), len(r.Network))
		}
	})
}

// FuzzTopResult decodes and checks a guest's Top reply as the host does.
func FuzzTopResult(f *testing.F) {
	f.Add([]byte(`{"processes":[{"pid":1,"ppid":0,"uid":0,"state":"S","cmd":"sh"}],"uptimeNanos":5}`))
	f.Add([]byte(`{"processes":[{"pid":-1,"cmd":""}]}`))
	f.Add([]byte(`{"processes":[{"pid":2,"state":"SSSSSS"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r TopResult
		if json.Unmarshal(b, &r) != nil || r.Check() != nil {
			return
		}
		for _, p := range r.Processes {
			if p.Pid <= 0 || len(p.Cmd) > MaxTopCommand || len(p.User) > MaxTopUser {
				t.Fatalf("checked process out of bounds: %+v", p)
			}
		}
	})
}
