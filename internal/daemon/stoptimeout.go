package daemon

import "time"

// defaultStopGrace is a stop's grace period when neither the request nor
// the pod's spec names one (docker's 10 s).
const defaultStopGrace = 10 * time.Second

// stopGrace is the grace period of a stop of pod p: the request's
// (timeout >= 0), else the pod's StopTimeout (run --stop-timeout), else
// defaultStopGrace.
func stopGrace(p *pod, timeout time.Duration) time.Duration {
	if timeout >= 0 {
		return timeout
	}
	p.mu.Lock()
	secs := p.rec.Spec.StopTimeout
	p.mu.Unlock()
	if secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return defaultStopGrace
}
