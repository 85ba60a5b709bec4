package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

// BenchmarkStatsEvents measures what watching costs hyperd on 20 running
// pods: its CPU over 10 s with no client, with one `stats` stream per pod
// (a guest Stats RPC and a /proc read of QEMU each second each), and
// with 20 `events` streams while one pod is paused and unpaused each
// second. Also the pods' QEMUs' CPU, which a stats stream wakes. Run
// with -benchtime 1x.
func BenchmarkStatsEvents(b *testing.B) {
	const pods, window = 20, 10 * time.Second
	h := newHyperd(b)
	h.loadBusybox()
	var ids []string
	for i := range pods {
		ids = append(ids, strings.TrimSpace(h.ok("run", "-d", "--name", fmt.Sprintf("s%d", i), "busybox", "sleep", "100000")))
	}
	pid := h.cmd.Process.Pid
	qemuCPU := func() float64 {
		var s float64
		for _, q := range podQemusUnder(h.dir) {
			s += cpuSeconds(b, q)
		}
		return s
	}
	measure := func(during func(ctx context.Context)) (hyperd, qemu float64) {
		ctx, cancel := context.WithTimeout(context.Background(), window)
		defer cancel()
		c0, q0 := cpuSeconds(b, pid), qemuCPU()
		if during != nil {
			during(ctx)
		}
		<-ctx.Done()
		return (cpuSeconds(b, pid) - c0) / window.Seconds() * 100, (qemuCPU() - q0) / window.Seconds() * 100
	}
	time.Sleep(2 * time.Second) // the pods settle
	idleD, idleQ := measure(nil)

	var readings atomic.Int64
	statsD, statsQ := measure(func(ctx context.Context) {
		for _, id := range ids {
			c := client.New(h.sock)
			go func() {
				defer c.Close()
				c.StreamStats(ctx, id, func(types.PodStats) error { readings.Add(1); return nil })
			}()
		}
	})

	var evs atomic.Int64
	eventsD, eventsQ := measure(func(ctx context.Context) {
		for range pods {
			c := client.New(h.sock)
			go func() {
				defer c.Close()
				c.Events(ctx, client.EventOptions{}, func(types.Event) error { evs.Add(1); return nil })
			}()
		}
		go func() {
			for ctx.Err() == nil {
				h.client.PausePod(context.Background(), ids[0])
				h.client.UnpausePod(context.Background(), ids[0])
				time.Sleep(time.Second)
			}
		}()
	})
	time.Sleep(time.Second)

	fmt.Printf("\nwatching %d running pods (%s), CPU %% of one core over %v:\n", pods, h.env.Config.Accel.Kind, window)
	fmt.Printf("  %-52s %8s %8s\n", "", "hyperd", "QEMUs")
	fmt.Printf("  %-52s %7.2f%% %7.1f%%\n", "no client", idleD, idleQ)
	fmt.Printf("  %-52s %7.2f%% %7.1f%%  (%d readings)\n", fmt.Sprintf("%d stats streams (one per pod)", pods), statsD, statsQ, readings.Load())
	fmt.Printf("  %-52s %7.2f%% %7.1f%%  (%d events delivered)\n", fmt.Sprintf("%d events streams, pause+unpause each second", pods), eventsD, eventsQ, evs.Load())
	b.ReportMetric(statsD-idleD, "hyperd-%core/20-stats")
}
