package qemu

import (
	"sort"
	"sync"
	"time"
)

func rdtsc() uint64

var (
	tscOnce sync.Once
	tscKHz  uint64
)

// hostTSCKHz measures the host's TSC frequency (median of 5 runs of 20 ms).
// Under TCG the guest's TSC runs at the host's rate; telling the guest
// (tsc_early_khz=) spares it a calibration against the emulated PIT that
// fails on a loaded host and leaves it on a 10 ms jiffies clock.
func hostTSCKHz() uint64 {
	tscOnce.Do(func() {
		var m []uint64
		for i := 0; i < 5; i++ {
			t0, c0 := time.Now(), rdtsc()
			time.Sleep(20 * time.Millisecond)
			c1, t1 := rdtsc(), time.Now()
			if us := t1.Sub(t0).Microseconds(); us > 0 && c1 > c0 {
				m = append(m, (c1-c0)*1000/uint64(us))
			}
		}
		if len(m) == 0 {
			return
		}
		sort.Slice(m, func(i, j int) bool { return m[i] < m[j] })
		// Round to 10 kHz: the measurement is not finer than that.
		tscKHz = (m[len(m)/2] + 5) / 10 * 10
	})
	return tscKHz
}
