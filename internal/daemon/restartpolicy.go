package daemon

import (
	"context"
	"time"

	"github.com/hyperhq/hyper/internal/sandbox"
)

// What hyperd does with restart policies when it starts, as docker does
// with its containers': a pod whose policy is always is started again if
// it does not run (its VM died with or while hyperd was down, or its user
// stopped it); unlessStopped is the same but for a pod its user stopped
// (stop or kill: record.UserStopped) — until they start it again. Pods
// whose VM survived are re-attached, not restarted (recover). Within a
// run, both policies restart the containers' main processes alike
// (sandbox.ShouldRestart).

// bootStartTimeout bounds each start at hyperd's start.
const bootStartTimeout = 5 * time.Minute

// startsAtBoot tells whether a pod that does not run is started when
// hyperd starts.
func startsAtBoot(policy string, userStopped bool) bool {
	name, _, err := sandbox.ParsePolicy(policy)
	if err != nil {
		return false
	}
	return name == sandbox.PolicyAlways || (name == sandbox.PolicyUnlessStopped && !userStopped)
}

// startRestartable starts, in the background, every pod that does not run
// and whose restart policy says it should (startsAtBoot). Close waits for
// the starts.
func (d *Daemon) startRestartable() {
	for _, p := range d.all() {
		p.mu.Lock()
		policy, stopped, id := p.rec.Spec.RestartPolicy, p.rec.UserStopped, p.rec.ID
		p.mu.Unlock()
		if p.sb.Running() || !startsAtBoot(policy, stopped) {
			continue
		}
		d.bootStarts.Add(1)
		go func() {
			defer d.bootStarts.Done()
			ctx, cancel := context.WithTimeout(context.Background(), bootStartTimeout)
			defer cancel()
			d.log.Info("starting pod under its restart policy", "pod", id[:12], "policy", policy)
			if err := d.Pods().start(ctx, p); err != nil {
				d.log.Warn("starting pod under its restart policy", "pod", id[:12], "err", err)
			}
		}()
	}
}

// markUserStopped records whether the pod's user stopped it (stop, kill)
// or started it since, for unlessStopped.
func (p *pod) markUserStopped(stopped bool) {
	p.mu.Lock()
	changed := p.rec.UserStopped != stopped
	p.rec.UserStopped = stopped
	p.mu.Unlock()
	if changed {
		p.save()
	}
}
