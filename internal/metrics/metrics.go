// Package metrics is hyperd's Prometheus metrics: it owns the registry
// and the collectors, and serves them (GET /metrics). Counters and
// histograms are fed by one-line calls from the daemon (PodStarted,
// VMExited, GuestRPC); gauges are read at scrape time from a Source, so
// that no hot path takes a lock for them; per-pod CPU and memory come
// from the QEMU processes' /proc files at scrape time too.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pod is one pod as the scrape sees it.
type Pod struct {
	ID, Name, State string
	// VMPid is its QEMU process, 0 when no VM runs.
	VMPid int
}

// Source is what the scrape-time gauges read: the daemon.
type Source interface {
	Pods() []Pod
	// Images counts the stored images and the store's bytes on disk.
	Images(ctx context.Context) (count int, bytes int64, err error)
}

// Metrics is hyperd's registry and the collectors fed by its calls.
type Metrics struct {
	reg          *prometheus.Registry
	starts       *prometheus.CounterVec
	startLatency *prometheus.HistogramVec
	vmExits      *prometheus.CounterVec
	rpcErrors    *prometheus.CounterVec
	rpcLatency   *prometheus.HistogramVec
}

// New makes the registry: hyperd's collectors, src's gauges, and the Go
// runtime and process collectors.
func New(src Source) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hyper_pod_starts_total", Help: "Pod starts that ran, by how the VM came up (template, cold).",
		}, []string{"boot"}),
		startLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hyper_pod_start_seconds", Help: "Time from a pod's start request to its containers running, by how the VM came up.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64},
		}, []string{"boot"}),
		vmExits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hyper_vm_exits_total", Help: "Pod VMs that ended, by reason (exited, removed, guest_error, vm_died).",
		}, []string{"reason"}),
		rpcErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hyper_guest_rpc_errors_total", Help: "Guest RPCs that failed, by method.",
		}, []string{"method"}),
		rpcLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hyper_guest_rpc_seconds", Help: "Guest RPC latency, by method.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"method"}),
	}
	m.reg.MustRegister(m.starts, m.startLatency, m.vmExits, m.rpcErrors, m.rpcLatency,
		&scrape{src: src, proc: "/proc"},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// PodStarted counts a pod start that ran, which took took; boot is how
// its VM came up (sandbox.BootTemplate, BootCold).
func (m *Metrics) PodStarted(boot string, took time.Duration) {
	if boot == "" {
		boot = "unknown"
	}
	m.starts.WithLabelValues(boot).Inc()
	m.startLatency.WithLabelValues(boot).Observe(took.Seconds())
}

// VMExited counts a pod VM's end for reason (sandbox.VMExit*).
func (m *Metrics) VMExited(reason string) { m.vmExits.WithLabelValues(reason).Inc() }

// GuestRPC observes one guest RPC (a guest.Observer).
func (m *Metrics) GuestRPC(method string, took time.Duration, err error) {
	m.rpcLatency.WithLabelValues(method).Observe(took.Seconds())
	if err != nil {
		m.rpcErrors.WithLabelValues(method).Inc()
	}
}

// Handler serves the metrics in Prometheus's text (or negotiated) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves the metrics alone on addr (plain HTTP, no authentication)
// until ctx ends.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("metrics listening", "address", l.Addr().String(), "security", "plain HTTP, no authentication")
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
