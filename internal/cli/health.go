package cli

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// healthFlags are run's docker health check flags.
type healthFlags struct {
	cmd                            string
	interval, timeout, startPeriod time.Duration
	retries                        int
	none                           bool
}

func addHealthFlags(f *pflag.FlagSet, o *healthFlags) {
	f.StringVar(&o.cmd, "health-cmd", "", "command (run by /bin/sh -c in the container) that checks the container's health")
	f.DurationVar(&o.interval, "health-interval", 0, "time between checks (default 30s)")
	f.DurationVar(&o.timeout, "health-timeout", 0, "longest a check may run (default 30s)")
	f.DurationVar(&o.startPeriod, "health-start-period", 0, "time after the start when failing checks do not count (default 0s)")
	f.IntVar(&o.retries, "health-retries", 0, "failures in a row that make the container unhealthy (default 3)")
	f.BoolVar(&o.none, "no-healthcheck", false, "disable the image's HEALTHCHECK")
}

// set tells whether any health flag was given.
func (o *healthFlags) set() bool {
	return o.cmd != "" || o.interval != 0 || o.timeout != 0 || o.startPeriod != 0 || o.retries != 0 || o.none
}

// config is the container's check: nil (the image's) unless a flag says.
func (o *healthFlags) config() (*types.HealthConfig, error) {
	if !o.set() {
		return nil, nil
	}
	if o.none {
		if o.cmd != "" || o.interval != 0 || o.timeout != 0 || o.startPeriod != 0 || o.retries != 0 {
			return nil, errdefs.InvalidArgument("--no-healthcheck conflicts with --health-* options")
		}
		return &types.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if o.interval < 0 || o.timeout < 0 || o.startPeriod < 0 || o.retries < 0 {
		return nil, errdefs.InvalidArgument("--health-interval, --health-timeout, --health-start-period and --health-retries cannot be negative")
	}
	if o.cmd == "" {
		return nil, errdefs.InvalidArgument("--health-interval, --health-timeout, --health-start-period and --health-retries need --health-cmd (hyperctl does not merge them into the image's HEALTHCHECK)")
	}
	return &types.HealthConfig{Test: []string{"CMD-SHELL", o.cmd}, Interval: o.interval, Timeout: o.timeout,
		StartPeriod: o.startPeriod, Retries: o.retries}, nil
}

// healthSuffix is docker's health note in ps's STATUS: " (healthy)",
// " (unhealthy)", " (health: starting)"; the first container's with a
// check.
func healthSuffix(p types.Pod) string {
	for _, c := range p.Containers {
		switch {
		case c.Health == nil:
		case c.Health.Status == types.HealthStarting:
			return " (health: starting)"
		default:
			return " (" + c.Health.Status + ")"
		}
	}
	return ""
}

// podHealth is docker inspect's State.Health: the first container's with
// a check, nil if none.
func podHealth(p types.Pod) *types.Health {
	for _, c := range p.Containers {
		if c.Health != nil {
			return c.Health
		}
	}
	return nil
}
