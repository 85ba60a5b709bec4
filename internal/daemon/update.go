package daemon

import (
	"context"
	"math"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// nanoPerQuotaUsec is NanoCPUs per microsecond of cpu.max quota at the
// default period (1e9 / DefaultCPUPeriodUsec).
const nanoPerQuotaUsec = 1e9 / protocol.DefaultCPUPeriodUsec

// Update implements api.Updater: the limits are checked against the
// pod's VM (its size is fixed: QEMU cannot add CPUs or memory to it),
// set in the containers' cgroups if the pod runs, and recorded in the
// pod's spec, so that every start applies them.
func (x Resources) Update(ctx context.Context, ref string, req types.UpdateRequest) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.mu.Lock()
	name, spec := p.rec.Name, p.rec.Spec
	p.mu.Unlock()
	r, err := guestLimits(req, or(spec.VCPUs, d.cfg.VCPUs), or(spec.MemoryMB, d.cfg.MemoryMB))
	if err != nil {
		return errdefs.InvalidArgument("updating pod %s: %w", name, err)
	}
	var names []string
	for _, cs := range spec.Containers {
		if req.Container == "" || cs.Name == req.Container {
			names = append(names, cs.Name)
		}
	}
	if len(names) == 0 {
		return errdefs.NotFound("pod %s has no container %s", name, req.Container)
	}
	for _, n := range names {
		if err := p.sb.Update(ctx, n, r); err != nil {
			return err
		}
		p.mu.Lock() // the record's specs are its containers' meta (pod.record)
		if m, ok := p.meta[n]; ok {
			m.spec.Resources = mergedLimits(m.spec.Resources, r)
			p.meta[n] = m
		}
		p.mu.Unlock()
	}
	p.save()
	p.publish(types.ActionUpdate, "", nil)
	return nil
}

// guestLimits are the cgroup limits req asks for, checked against a VM of
// vcpus CPUs and memMB MiB. A value of 0 or less removes a limit.
func guestLimits(req types.UpdateRequest, vcpus, memMB int) (protocol.Resources, error) {
	var r protocol.Resources
	zero := func() *uint64 { var v uint64; return &v }
	if c := req.CPUs; c != nil {
		r.CPUQuotaUsec = zero()
		switch {
		case math.IsNaN(*c) || math.IsInf(*c, 0):
			return r, errdefs.InvalidArgument("cpus %v: not a number", *c)
		case *c > float64(vcpus):
			return r, errdefs.InvalidArgument("cpus %g: the pod's VM has %d vCPUs and cannot get more (run it with a larger --cpus)", *c, vcpus)
		case *c > 0:
			*r.CPUQuotaUsec = uint64(math.Round(*c * protocol.DefaultCPUPeriodUsec))
			if *r.CPUQuotaUsec < protocol.MinCPUQuotaUsec {
				return r, errdefs.InvalidArgument("cpus %g: at least 0.01", *c)
			}
		}
	}
	if m := req.MemoryBytes; m != nil {
		r.MemoryMaxBytes = zero()
		switch {
		case *m > int64(memMB)<<20:
			return r, errdefs.InvalidArgument("memory %d bytes: the pod's VM has %d MiB and cannot get more (run it with a larger --memory)", *m, memMB)
		case *m > 0 && *m < protocol.MinMemoryBytes:
			return r, errdefs.InvalidArgument("memory %d bytes: the minimum is 6 MiB", *m)
		case *m > 0:
			*r.MemoryMaxBytes = uint64(*m)
		}
	}
	if n := req.PidsLimit; n != nil {
		r.PidsMax = zero()
		if *n > 0 {
			*r.PidsMax = uint64(*n)
		}
	}
	if r.Empty() {
		return r, errdefs.InvalidArgument("nothing to update: give cpus, memory or a pids limit")
	}
	if err := r.Check(); err != nil {
		return r, errdefs.InvalidArgument("%w", err)
	}
	return r, nil
}

// mergedLimits is cur with the limits r sets; nil when none is left.
func mergedLimits(cur *types.Resources, r protocol.Resources) *types.Resources {
	var out types.Resources
	if cur != nil {
		out = *cur
	}
	if q := r.CPUQuotaUsec; q != nil {
		out.NanoCPUs = int64(*q) * nanoPerQuotaUsec
	}
	if m := r.MemoryMaxBytes; m != nil {
		out.MemoryBytes = int64(*m)
	}
	if n := r.PidsMax; n != nil {
		out.PidsLimit = int64(*n)
	}
	if out == (types.Resources{}) {
		return nil
	}
	return &out
}

// cgroupLimits are the limits of a container's spec as its guest sets
// them at creation; nil: none.
func cgroupLimits(l *types.Resources) *protocol.Resources {
	if l == nil || *l == (types.Resources{}) {
		return nil
	}
	var r protocol.Resources
	set := func(v int64) *uint64 {
		if v <= 0 {
			return nil
		}
		u := uint64(v)
		return &u
	}
	r.CPUQuotaUsec = set(l.NanoCPUs / nanoPerQuotaUsec)
	r.MemoryMaxBytes, r.PidsMax = set(l.MemoryBytes), set(l.PidsLimit)
	return &r
}
