package daemon

import (
	"context"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// Resources is the daemon's api.Resources: figures of running pods.
type Resources struct{ d *Daemon }

var _ api.Resources = Resources{}

// Resources returns the daemon's api.Resources.
func (d *Daemon) Resources() Resources { return Resources{d} }

// Stats implements api.Resources.
func (x Resources) Stats(ctx context.Context, ref string) (types.PodStats, error) {
	p, err := x.d.lookup(ref)
	if err != nil {
		return types.PodStats{}, err
	}
	st, err := p.sb.Stats(ctx)
	if err != nil {
		return types.PodStats{}, err
	}
	p.mu.Lock()
	id, name := p.rec.ID, p.rec.Name
	p.mu.Unlock()
	return podStats(id, name, st), nil
}

// podStats is a sandbox reading as the API shows it.
func podStats(id, name string, st sandbox.Stats) types.PodStats {
	g := st.Guest
	out := types.PodStats{ID: id, Name: name, Read: st.Read, GuestNanos: g.ReadNanos,
		VM: types.VMStats{Pid: st.Host.Pid, CPUs: g.CPUs, MemTotalBytes: g.MemTotalBytes,
			MemAvailableBytes: g.MemAvailableBytes, HostCPUNanos: st.Host.CPUNanos, HostRSSBytes: st.Host.RSSBytes}}
	for _, c := range g.Containers {
		out.Containers = append(out.Containers, containerStats(c))
	}
	for _, n := range g.Network {
		out.Networks = append(out.Networks, types.NetworkStats(n))
	}
	return out
}

func containerStats(c protocol.ContainerStats) types.ContainerStats {
	const us = 1000 // ns
	m := c.Memory
	return types.ContainerStats{Name: c.Container,
		CPU: types.CPUStats{UsageNanos: c.CPU.UsageUsec * us, UserNanos: c.CPU.UserUsec * us,
			SystemNanos: c.CPU.SystemUsec * us, Periods: c.CPU.Periods, ThrottledPeriods: c.CPU.Throttled,
			ThrottledNanos: c.CPU.ThrottledUsec * us},
		Memory: types.MemoryStats{Usage: m.UsageBytes, Limit: m.LimitBytes, Anon: m.AnonBytes, File: m.FileBytes,
			Kernel: m.KernelBytes, Shmem: m.ShmemBytes, InactiveFile: m.InactiveFile, PgFault: m.PgFault,
			PgMajFault: m.PgMajFault, OOM: m.OOM, OOMKill: m.OOMKill},
		Pids:    types.PidsStats{Current: c.Pids.Current, Limit: c.Pids.Limit},
		BlockIO: types.BlockIOStats{ReadBytes: c.IO.ReadBytes, WriteBytes: c.IO.WriteBytes, ReadOps: c.IO.ReadIOs, WriteOps: c.IO.WriteIOs},
	}
}

// Pause implements api.Resources.
func (x Resources) Pause(ctx context.Context, ref string) error {
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	if err := p.sb.Pause(ctx); err != nil {
		return err
	}
	p.publish(types.ActionPause, "", nil)
	return nil
}

// Unpause implements api.Resources.
func (x Resources) Unpause(ctx context.Context, ref string) error {
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	if err := p.sb.Unpause(ctx); err != nil {
		return err
	}
	p.publish(types.ActionUnpause, "", nil)
	return nil
}

// Top implements api.Resources.
func (x Resources) Top(ctx context.Context, ref, container string) (types.TopResponse, error) {
	p, err := x.d.lookup(ref)
	if err != nil {
		return types.TopResponse{}, err
	}
	res, err := p.sb.Top(ctx, container)
	if err != nil {
		return types.TopResponse{}, err
	}
	out := types.TopResponse{Container: container, Uptime: time.Duration(res.UptimeNanos), MemTotalBytes: res.MemTotalBytes,
		Processes: []types.Process{}}
	if out.Container == "" {
		if cs, _, ok := p.sb.Container(""); ok {
			out.Container = cs.Name
		}
	}
	for _, pr := range res.Processes {
		out.Processes = append(out.Processes, types.Process{Pid: pr.Pid, PPid: pr.PPid, UID: pr.UID, User: pr.User,
			State: pr.State, Start: time.Duration(pr.StartNanos), CPUTime: time.Duration(pr.CPUNanos),
			RSSBytes: pr.RSSBytes, VSZBytes: pr.VSZBytes, TTY: pr.TTY, Cmd: pr.Cmd})
	}
	return out, nil
}
