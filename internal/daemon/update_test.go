package daemon

import (
	"errors"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestGuestLimits(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	r, err := guestLimits(types.UpdateRequest{CPUs: f(0.5), MemoryBytes: i(64 << 20), PidsLimit: i(-1)}, 2, 256)
	if err != nil {
		t.Fatal(err)
	}
	if *r.CPUQuotaUsec != 50000 || r.Period() != 100000 || *r.MemoryMaxBytes != 64<<20 || *r.PidsMax != 0 {
		t.Errorf("limits %d/%d %d %d", *r.CPUQuotaUsec, r.Period(), *r.MemoryMaxBytes, *r.PidsMax)
	}
	got := mergedLimits(nil, r)
	if want := (types.Resources{NanoCPUs: 5e8, MemoryBytes: 64 << 20}); got == nil || *got != want {
		t.Errorf("merged %+v, want %+v", got, want)
	}
	if back := cgroupLimits(got); *back.CPUQuotaUsec != 50000 || *back.MemoryMaxBytes != 64<<20 || back.PidsMax != nil {
		t.Errorf("cgroupLimits %+v", back)
	}
	r, _ = guestLimits(types.UpdateRequest{CPUs: f(0), MemoryBytes: i(0)}, 2, 256)
	if mergedLimits(got, r) != nil || cgroupLimits(nil) != nil {
		t.Error("removing every limit leaves some")
	}
	for _, bad := range []types.UpdateRequest{
		{}, {CPUs: f(3)}, {CPUs: f(0.001)}, {MemoryBytes: i(1 << 30)}, {MemoryBytes: i(1 << 20)}, {PidsLimit: i(1 << 40)},
	} {
		if _, err := guestLimits(bad, 2, 256); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want InvalidArgument", bad, err)
		}
	}
}
