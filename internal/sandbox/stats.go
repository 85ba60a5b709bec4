package sandbox

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/procstat"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Stats is one reading of a running pod: its containers' cgroup figures
// in the guest with the guest's network and memory, and what its VM costs
// the host.
type Stats struct {
	Read time.Time
	// Guest has the main containers only, in the pod's order; init
	// containers and containers being added are left out.
	Guest protocol.StatsResult
	Host  HostCost
}

// HostCost is the hypervisor process's use of the host. Zero figures:
// they could not be read.
type HostCost struct {
	Pid int
	// CPUNanos is its user and system CPU time.
	CPUNanos uint64
	// RSSBytes is its resident memory (smaps_rollup's Rss: guest RAM
	// touched, the hypervisor's own memory).
	RSSBytes uint64
}

// Stats reads the pod's figures: one guest RPC, made without the lock.
// The pod must be running.
func (s *Sandbox) Stats(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	running := s.run != nil && s.run.vm != nil && s.st.state == Running
	var v *vm.VM
	if running {
		v = s.run.vm
	}
	var names []string
	for _, c := range s.ctrs {
		names = append(names, c.spec.Name)
	}
	pid, paused := s.st.vmPid, s.st.paused
	s.mu.Unlock()
	if !running {
		return Stats{}, errdefs.Conflict("pod %s is not running", s.spec.Name)
	}
	if paused { // the guest cannot answer: the host's figures only
		st := Stats{Read: time.Now(), Host: ReadHostCost(pid)}
		for _, n := range names {
			st.Guest.Containers = append(st.Guest.Containers, protocol.ContainerStats{Container: n})
		}
		return st, nil
	}
	res, err := v.Guest.Stats(ctx, nil)
	if err = s.cutShort(v, err); err != nil {
		return Stats{}, fmt.Errorf("reading the stats of pod %s: %w", s.spec.Name, err)
	}
	st := Stats{Read: time.Now(), Guest: res, Host: ReadHostCost(pid)}
	st.Guest.Containers = nil
	for _, n := range names {
		if i := slices.IndexFunc(res.Containers, func(c protocol.ContainerStats) bool { return c.Container == n }); i >= 0 {
			st.Guest.Containers = append(st.Guest.Containers, res.Containers[i])
		}
	}
	return st, nil
}

// ReadHostCost reads process pid's CPU time and resident memory from
// /proc. A figure that cannot be read is 0.
func ReadHostCost(pid int) HostCost {
	hc := HostCost{Pid: pid}
	if pid <= 0 {
		return hc
	}
	if u, err := procstat.Read("/proc", pid); err == nil {
		hc.CPUNanos, hc.RSSBytes = uint64(u.CPU), uint64(u.RSS)
	}
	return hc
}

// Top lists the processes of main container name ("" is the first): one
// guest RPC, made without the lock. The pod must be running, not paused.
func (s *Sandbox) Top(ctx context.Context, name string) (protocol.TopResult, error) {
	s.mu.Lock()
	c, ok := mainCtr(s.ctrs, name)
	var v *vm.VM
	if s.run != nil && s.run.vm != nil && s.st.state == Running {
		v = s.run.vm
	}
	paused := s.st.paused
	s.mu.Unlock()
	switch {
	case !ok:
		return protocol.TopResult{}, errdefs.NotFound("pod %s has no container %s", s.spec.Name, name)
	case v == nil:
		return protocol.TopResult{}, errdefs.Conflict("pod %s is not running", s.spec.Name)
	case paused:
		return protocol.TopResult{}, errdefs.Conflict("pod %s is paused", s.spec.Name)
	}
	res, err := v.Guest.Top(ctx, c.spec.Name)
	if err = s.cutShort(v, err); err != nil {
		return res, fmt.Errorf("listing the processes of %s/%s: %w", s.spec.Name, c.spec.Name, err)
	}
	return res, nil
}
