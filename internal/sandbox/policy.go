package sandbox

import (
	"fmt"
	"strconv"
	"strings"
)

// Restart policies of a pod or container (the pod files' words).
// PolicyOnFailure may carry a retry limit: "onFailure:N".
const (
	PolicyNever     = "never"
	PolicyOnFailure = "onFailure"
	PolicyAlways    = "always"
	// PolicyUnlessStopped restarts as PolicyAlways does; it differs only
	// in what hyperd does when it starts (the daemon's business).
	PolicyUnlessStopped = "unlessStopped"
)

// ParsePolicy parses a restart policy: never (""), always, onFailure or
// onFailure:N. max is the retry limit of onFailure, -1 for none.
func ParsePolicy(s string) (name string, max int, err error) {
	name, n, hasN := strings.Cut(s, ":")
	switch name {
	case "", PolicyNever:
		name = PolicyNever
	case PolicyAlways, PolicyOnFailure, PolicyUnlessStopped:
	default:
		return "", 0, fmt.Errorf("unknown restart policy %q: use never, onFailure[:N], always or unlessStopped", s)
	}
	if !hasN {
		return name, -1, nil
	}
	max, err = strconv.Atoi(n)
	if name != PolicyOnFailure || err != nil || max < 0 {
		return "", 0, fmt.Errorf("bad restart policy %q: only onFailure takes a retry count, onFailure:N with N >= 0", s)
	}
	return name, max, nil
}

// ShouldRestart tells whether a container that exited with code after
// restarts earlier restarts is restarted under policy (the container's,
// else the pod's).
func ShouldRestart(ctrPolicy, podPolicy string, code, restarts int) bool {
	policy := ctrPolicy
	if policy == "" {
		policy = podPolicy
	}
	name, max, err := ParsePolicy(policy)
	if err != nil {
		return false
	}
	switch name {
	case PolicyAlways, PolicyUnlessStopped:
		return true
	case PolicyOnFailure:
		return code != 0 && (max < 0 || restarts < max)
	}
	return false
}
