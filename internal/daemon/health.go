package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// Health checks, as docker runs them: for each container of a running pod
// with a check (its own, run --health-*, or its image's HEALTHCHECK), one
// goroutine runs the check as an exec in the container every interval,
// from the pod's start until its run ends. A check that exits 0 makes the
// container healthy; Retries failures in a row (those within StartPeriod
// do not count) unhealthy. No lock is held across the exec.

// docker's defaults and bounds.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	healthLogLen          = 5
	healthOutputMax       = 4096 // bytes kept of a check's output
)

// healthBoard holds the health of the running pods' containers. Its mu
// is a leaf: nothing else is locked under it.
type healthBoard struct {
	mu    sync.Mutex
	byPod map[string]map[string]*types.Health // pod ID → container → health
}

// healthDefaults takes the image's HEALTHCHECK when the container has no
// check of its own.
func healthDefaults(cs *types.ContainerSpec, image *types.HealthConfig) {
	if cs.Healthcheck == nil && image != nil && len(image.Test) > 0 {
		hc := *image
		cs.Healthcheck = &hc
	}
}

// activeCheck is c's check with docker's defaults, ok false if it has
// none (or NONE).
func activeCheck(c types.ContainerSpec) (types.HealthConfig, bool) {
	if c.Healthcheck == nil || len(c.Healthcheck.Test) == 0 || c.Healthcheck.Test[0] == "NONE" {
		return types.HealthConfig{}, false
	}
	hc := *c.Healthcheck
	if hc.Interval <= 0 {
		hc.Interval = defaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = defaultHealthTimeout
	}
	if hc.Retries <= 0 {
		hc.Retries = defaultHealthRetries
	}
	return hc, true
}

// healthArgs is the command of a check's Test.
func healthArgs(test []string) ([]string, error) {
	switch {
	case len(test) >= 2 && test[0] == "CMD":
		return test[1:], nil
	case len(test) == 2 && test[0] == "CMD-SHELL":
		return []string{"/bin/sh", "-c", test[1]}, nil
	}
	return nil, fmt.Errorf("health check test %q: want [CMD, args...], [CMD-SHELL, command] or [NONE]", test)
}

// checkHealthConfig refuses a check the checker cannot run.
func checkHealthConfig(where string, hc *types.HealthConfig) error {
	if hc == nil || (len(hc.Test) == 1 && hc.Test[0] == "NONE") {
		return nil
	}
	if _, err := healthArgs(hc.Test); err != nil {
		return errdefs.InvalidArgument("%s.healthcheck: %w", where, err)
	}
	if hc.Interval < 0 || hc.Timeout < 0 || hc.StartPeriod < 0 || hc.Retries < 0 {
		return errdefs.InvalidArgument("%s.healthcheck: negative interval, timeout, start period or retries", where)
	}
	if hc.Interval > 0 && hc.Interval < time.Millisecond || hc.Timeout > 0 && hc.Timeout < time.Millisecond {
		return errdefs.InvalidArgument("%s.healthcheck: interval and timeout are at least 1ms", where)
	}
	return nil
}

// watchHealth starts the checks of pod p's current run.
func (d *Daemon) watchHealth(p *pod) {
	exited := p.sb.Exited()
	if !p.sb.Running() {
		return
	}
	p.mu.Lock()
	type check struct {
		name string
		hc   types.HealthConfig
	}
	var checks []check
	for name, m := range p.meta {
		if hc, ok := activeCheck(m.spec); ok {
			checks = append(checks, check{name, hc})
		}
	}
	p.mu.Unlock()
	for _, c := range checks {
		go d.checkHealth(p, c.name, c.hc, exited)
	}
}

// checkHealth runs container name's check until exited is closed.
func (d *Daemon) checkHealth(p *pod, name string, hc types.HealthConfig, exited <-chan struct{}) {
	id := p.rec.ID // immutable
	h := &types.Health{Status: types.HealthStarting}
	d.health.set(id, name, h)
	defer d.health.drop(id, name, h)
	started := time.Now()
	timer := time.NewTimer(hc.Interval)
	defer timer.Stop()
	for {
		select {
		case <-exited:
			return
		case <-timer.C:
		}
		res := d.probe(p, name, hc)
		failing := res.ExitCode != 0 && time.Since(started) >= hc.StartPeriod
		if status, changed := d.health.record(id, name, res, failing, hc.Retries); changed {
			// docker's action carries the status: "health_status: healthy"
			p.publish(types.ActionHealth+": "+status, name, map[string]string{"health_status": status})
		}
		timer.Reset(hc.Interval)
	}
}

// probe runs the check once as an exec in the container.
func (d *Daemon) probe(p *pod, name string, hc types.HealthConfig) types.HealthResult {
	res := types.HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	defer func() { res.End = time.Now().UTC() }()
	args, err := healthArgs(hc.Test)
	if err != nil {
		res.Output = err.Error()
		return res
	}
	cs, _, ok := p.sb.Container(name)
	if !ok {
		res.Output = "the container is gone"
		return res
	}
	spec := cs.Process
	spec.Args, spec.Terminal, spec.Stdin = args, false, false
	ctx, cancel := context.WithTimeout(context.Background(), hc.Timeout)
	defer cancel()
	out := &boundedBuffer{max: healthOutputMax}
	code, err := p.sb.Exec(ctx, name, newID()[:16], spec, sandbox.Stdio{Stdout: out, Stderr: out}, nil)
	switch {
	case ctx.Err() != nil:
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", hc.Timeout)
	case err != nil:
		res.Output = err.Error()
	default:
		res.ExitCode, res.Output = code, out.String()
	}
	return res
}

// drop forgets a container's health h, unless a newer run's replaced it.
func (b *healthBoard) drop(podID, name string, h *types.Health) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byPod[podID][name] != h {
		return
	}
	delete(b.byPod[podID], name)
	if len(b.byPod[podID]) == 0 {
		delete(b.byPod, podID)
	}
}

// set records a container's health.
func (b *healthBoard) set(podID, name string, h *types.Health) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byPod == nil {
		b.byPod = map[string]map[string]*types.Health{}
	}
	if b.byPod[podID] == nil {
		b.byPod[podID] = map[string]*types.Health{}
	}
	b.byPod[podID][name] = h
}

// record adds a check's result; it returns the status and whether it
// changed to healthy or unhealthy.
func (b *healthBoard) record(podID, name string, res types.HealthResult, failing bool, retries int) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.byPod[podID][name]
	if h == nil {
		return "", false
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogLen {
		h.Log = h.Log[len(h.Log)-healthLogLen:]
	}
	old := h.Status
	switch {
	case res.ExitCode == 0:
		h.Status, h.FailingStreak = types.HealthHealthy, 0
	case failing:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = types.HealthUnhealthy
		}
	}
	return h.Status, h.Status != old
}

// fill puts the health of pod's containers into it (copies).
func (b *healthBoard) fill(pod *types.Pod) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, c := range pod.Containers {
		if h := b.byPod[pod.ID][c.Name]; h != nil {
			cp := *h
			cp.Log = append([]types.HealthResult(nil), h.Log...)
			pod.Containers[i].Health = &cp
		}
	}
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// imageHealthcheck is an image's HEALTHCHECK in the API's terms.
func imageHealthcheck(h *v1.HealthConfig) *types.HealthConfig {
	if h == nil {
		return nil
	}
	return &types.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
}
