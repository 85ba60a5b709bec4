package protocol

import "testing"

func TestResourcesCheckMerge(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	for _, ok := range []Resources{{}, {CPUQuotaUsec: u(0)}, {CPUQuotaUsec: u(50000), CPUPeriodUsec: 100000},
		{MemoryMaxBytes: u(0)}, {MemoryMaxBytes: u(64 << 20)}, {PidsMax: u(0)}, {PidsMax: u(10)}} {
		if err := ok.Check(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Resources{{CPUQuotaUsec: u(999)}, {CPUPeriodUsec: 10}, {CPUPeriodUsec: 2000000},
		{MemoryMaxBytes: u(1 << 20)}, {MemoryMaxBytes: u(1 << 60)}, {PidsMax: u(1 << 30)}} {
		if bad.Check() == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	m := Resources{CPUQuotaUsec: u(1000), MemoryMaxBytes: u(64 << 20)}.Merge(Resources{MemoryMaxBytes: u(0), PidsMax: u(5)})
	if *m.CPUQuotaUsec != 1000 || *m.MemoryMaxBytes != 0 || *m.PidsMax != 5 {
		t.Errorf("merged %+v", m)
	}
	if !(Resources{}).Empty() || m.Empty() {
		t.Error("Empty")
	}
}
