package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/testenv"
)

// cpuSeconds is process pid's user+system CPU time (/proc/PID/stat).
func cpuSeconds(tb testing.TB, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	ut, _ := strconv.ParseFloat(string(f[11]), 64)
	st, _ := strconv.ParseFloat(string(f[12]), 64)
	return (ut + st) / 100
}

// BenchmarkEvents measures hyperd's CPU with N=5 `events` streams open:
// per 100 events while pods come and go (run --rm), and, to isolate the
// streams' own cost, while cheap image tag/untag events flow, with 0 and
// with 5 streams. Run with -benchtime 1x.
func BenchmarkEvents(b *testing.B) {
	const streams = 5
	h := newHyperd(b)
	h.loadBusybox()
	h.ok("run", "--rm", "busybox", "true") // the rootfs and template, not measured
	pid := h.cmd.Process.Pid
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	open := func(n int) context.CancelFunc {
		sctx, stop := context.WithCancel(ctx)
		for range n {
			c := client.New(h.sock)
			go func() {
				defer c.Close()
				c.Events(sctx, client.EventOptions{}, func(types.Event) error { got.Add(1); return nil })
			}()
		}
		time.Sleep(300 * time.Millisecond)
		return stop
	}
	tagBurst := func(n int) (float64, time.Duration) {
		c0 := cpuSeconds(b, pid)
		start := time.Now()
		h.tagUntag("busybox:b", n)
		return cpuSeconds(b, pid) - c0, time.Since(start)
	}
	const tags = 500 // 1000 events
	idleCPU, idleTook := tagBurst(tags)
	stop := open(streams)
	got.Store(0)
	busyCPU, busyTook := tagBurst(tags)
	waitFor(b, 30*time.Second, "the streams' events", func() bool { return got.Load() >= int64(streams*2*tags) })

	pods := testenv.Runs()
	got.Store(0)
	c0 := cpuSeconds(b, pid)
	start := time.Now()
	for range pods {
		h.ok("run", "--rm", "busybox", "true")
	}
	podCPU, podTook := cpuSeconds(b, pid)-c0, time.Since(start)
	time.Sleep(500 * time.Millisecond)
	perStream := float64(got.Load()) / streams
	stop()

	fmt.Printf("\nhyperd CPU with %d events streams (%s):\n", streams, h.env.Config.Accel.Kind)
	fmt.Printf("  %-58s %8.3fs CPU /100 events (%v)\n", "image tag+untag, no stream", idleCPU/(2*tags)*100, idleTook.Round(time.Millisecond))
	fmt.Printf("  %-58s %8.3fs CPU /100 events (%v)\n", fmt.Sprintf("image tag+untag, %d streams", streams), busyCPU/(2*tags)*100, busyTook.Round(time.Millisecond))
	fmt.Printf("  %-58s %8.3fs CPU /100 events (%d pods, %.0f events each stream, %v)\n",
		fmt.Sprintf("run --rm busybox true, %d streams", streams), podCPU/perStream*100, pods, perStream, podTook.Round(time.Millisecond))
	b.ReportMetric((busyCPU-idleCPU)/(2*tags)*100/streams, "cpu-s/100ev/stream")
}
