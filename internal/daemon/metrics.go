package daemon

import (
	"context"
	"net/http"
	"time"

	"github.com/hyperhq/hyper/internal/metrics"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// Metrics is the daemon's Prometheus registry (GET /metrics).
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// metricsHandler serves the metrics; nil without them (a Daemon not made
// by New).
func (d *Daemon) metricsHandler() http.Handler {
	if d.metrics == nil {
		return nil
	}
	return d.metrics.Handler()
}

// metricsSource is the daemon as the scrape-time gauges read it.
type metricsSource struct{ d *Daemon }

// Pods implements metrics.Source: every pod's state and, while its VM
// runs, its QEMU's pid.
func (s metricsSource) Pods() []metrics.Pod {
	var out []metrics.Pod
	for _, p := range s.d.all() {
		st := p.sb.Status()
		mp := metrics.Pod{ID: p.rec.ID, Name: p.name(), State: string(st.State)}
		if st.State == sandbox.Running {
			mp.VMPid = st.VMPid
		}
		out = append(out, mp)
	}
	return out
}

// Images implements metrics.Source.
func (s metricsSource) Images(ctx context.Context) (int, int64, error) {
	du, err := s.d.imageStore.DiskUsage(ctx)
	if err != nil {
		return 0, 0, err
	}
	return du.Images.Count, du.Images.Size, nil
}

// startObserved is p's sandbox start, counted and timed by how its VM
// came up.
func (d *Daemon) startObserved(ctx context.Context, p *pod, prepare sandbox.Prepare) error {
	start := time.Now()
	if err := p.sb.Start(ctx, prepare); err != nil {
		return err
	}
	if d.metrics != nil {
		d.metrics.PodStarted(p.sb.Status().Boot, time.Since(start))
	}
	return nil
}

// vmExited counts a pod VM's end.
func (d *Daemon) vmExited(reason string) {
	if d.metrics != nil {
		d.metrics.VMExited(reason)
	}
}
