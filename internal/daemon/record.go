package daemon

import (
	"context"
	"fmt"
	"slices"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/daemon/podrec"
	"github.com/hyperhq/hyper/internal/protocol"
)

// The state database keeps a pod as a podrec.Pod, hyperd's own schema;
// the daemon works with a record, made of the API's and the guest's
// types. stored and loaded convert between the two.

// loadPods reads every pod's record. Records of an older schema version
// are upgraded first, all in one transaction: a record that cannot be
// (a newer hyperd's) fails the start and leaves the bucket as it was.
// Containers recorded before their security was (no capabilities) get
// the defaults.
func (d *Daemon) loadPods(ctx context.Context) ([]record, error) {
	n, err := d.db.Migrate(podsBucket, func(_ string, raw []byte) ([]byte, error) { return podrec.Upgrade(raw) })
	if err != nil {
		return nil, err
	}
	if n > 0 {
		d.log.Info("upgraded pod records", "records", n, "version", podrec.Version)
	}
	var recs []record
	err = d.db.Each(podsBucket, func(key string, raw []byte) error {
		s, err := podrec.Decode(raw)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", podsBucket, key, err)
		}
		rec := loaded(s)
		d.secureOlder(ctx, rec.Spec.InitContainers, rec.InitProcs)
		d.secureOlder(ctx, rec.Spec.Containers, rec.Procs)
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}

// secureOlder gives the default security to the processes of containers
// recorded by a hyperd that had none (their capabilities are nil; the
// policy always sets them).
func (d *Daemon) secureOlder(ctx context.Context, specs []types.ContainerSpec, procs []protocol.ProcessSpec) {
	for i := range procs {
		if procs[i].Capabilities != nil {
			continue
		}
		cs := specs[i]
		cs.RunAsNonRoot = false // checked at creation, if at all
		sec, err := d.sec.Resolve(ctx, cs, procs[i].User)
		if err != nil {
			d.log.Warn("container recorded without security settings keeps hyperstart's", "container", cs.Name, "err", err)
			continue
		}
		sec.Apply(&procs[i])
	}
}

// stored is rec as the state database keeps it.
func stored(rec record) podrec.Pod {
	return podrec.Pod{Version: podrec.Version, ID: rec.ID, Name: rec.Name, Created: rec.Created, Dir: rec.Dir, VMID: rec.VMID,
		Spec:           storedSpec(rec.Spec),
		InitContainers: storedContainers(rec.Spec.InitContainers, rec.InitContainers, rec.InitProcs),
		Containers:     storedContainers(rec.Spec.Containers, rec.Containers, rec.Procs),
		VolumePlan:     each(rec.Volumes, func(v podVolume) podrec.VolumePlan { return podrec.VolumePlan(v) }),
		Status: podrec.PodStatus{State: rec.State, Reason: rec.Reason, ExitCode: rec.ExitCode, StartedAt: rec.StartedAt,
			FinishedAt: rec.FinishedAt, VM: podrec.VM(rec.VM), Network: rec.Network, IPAddress: rec.IPAddress, Serials: rec.Serials,
			UserStopped: rec.UserStopped, Paused: rec.Paused,
			Ports: each(rec.Ports, func(b types.PortBinding) podrec.PortBinding { return podrec.PortBinding(b) })}}
}

// loaded is the record that s stores.
func loaded(s podrec.Pod) record {
	st := s.Status
	rec := record{Dir: s.Dir, VMID: s.VMID, Serials: st.Serials, UserStopped: st.UserStopped,
		Volumes: each(s.VolumePlan, func(v podrec.VolumePlan) podVolume { return podVolume(v) }),
		Pod: types.Pod{ID: s.ID, Name: s.Name, Created: s.Created, Spec: loadedSpec(s.Name, s.Spec),
			State: st.State, Reason: st.Reason, ExitCode: st.ExitCode, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt,
			VM: types.VMInfo(st.VM), Network: st.Network, IPAddress: st.IPAddress, Paused: st.Paused,
			Ports: each(st.Ports, func(b podrec.PortBinding) types.PortBinding { return types.PortBinding(b) })}}
	for _, c := range s.InitContainers {
		rec.Spec.InitContainers = append(rec.Spec.InitContainers, loadedCtrSpec(c.Spec))
		rec.InitContainers = append(rec.InitContainers, loadedContainer(c, true))
		rec.InitProcs = append(rec.InitProcs, loadedProcess(c.Process))
	}
	for _, c := range s.Containers {
		rec.Spec.Containers = append(rec.Spec.Containers, loadedCtrSpec(c.Spec))
		rec.Containers = append(rec.Containers, loadedContainer(c, false))
		rec.Procs = append(rec.Procs, loadedProcess(c.Process))
	}
	return rec
}

// storedContainers joins a record's lists of containers (aligned by
// index). The API's Container repeats its spec's name and image and its
// process's arguments (Command): they are stored once.
func storedContainers(specs []types.ContainerSpec, ctrs []types.Container, procs []protocol.ProcessSpec) []podrec.Container {
	var out []podrec.Container
	for i, cs := range specs {
		c := ctrs[i]
		out = append(out, podrec.Container{Spec: storedCtrSpec(cs), ImageID: c.ImageID, Process: storedProcess(procs[i]),
			Status: podrec.ContainerStatus{State: c.State, ExitCode: c.ExitCode, Pid: c.Pid, RestartCount: c.RestartCount,
				OOMKilled: c.OOMKilled}})
	}
	return out
}

func loadedContainer(c podrec.Container, init bool) types.Container {
	st := c.Status
	return types.Container{Name: c.Spec.Name, Image: c.Spec.Image, ImageID: c.ImageID, State: st.State, ExitCode: st.ExitCode,
		Pid: st.Pid, Command: slices.Clone(c.Process.Args), RestartCount: st.RestartCount, Init: init, OOMKilled: st.OOMKilled}
}

// storedSpec is the pod-wide part of spec (its name is the pod's, its
// containers are stored with their states).
func storedSpec(spec types.PodSpec) podrec.PodSpec {
	return podrec.PodSpec{Hostname: spec.Hostname, VCPUs: spec.VCPUs, MemoryMB: spec.MemoryMB, Labels: spec.Labels,
		AutoRemove: spec.AutoRemove, RestartPolicy: spec.RestartPolicy, Network: spec.Network,
		StopTimeout: spec.StopTimeout, PublishAll: spec.PublishAll,
		Log:         ptr(spec.Log, func(l types.LogConfig) podrec.LogConfig { return podrec.LogConfig(l) }),
		HostAliases: each(spec.HostAliases, func(a types.HostAlias) podrec.HostAlias { return podrec.HostAlias(a) }),
		Volumes:     each(spec.Volumes, storedVolume),
		Files:       each(spec.Files, func(f types.File) podrec.File { return podrec.File(f) }),
		Ports:       each(spec.Ports, func(p types.PortMapping) podrec.PortMapping { return podrec.PortMapping(p) }),
		DNS:         ptr(spec.DNS, func(d types.DNSConfig) podrec.DNS { return podrec.DNS(d) })}
}

// loadedSpec is the spec of pod name without its containers.
func loadedSpec(name string, spec podrec.PodSpec) types.PodSpec {
	return types.PodSpec{Name: name, Hostname: spec.Hostname, VCPUs: spec.VCPUs, MemoryMB: spec.MemoryMB, Labels: spec.Labels,
		AutoRemove: spec.AutoRemove, RestartPolicy: spec.RestartPolicy, Network: spec.Network,
		StopTimeout: spec.StopTimeout, PublishAll: spec.PublishAll,
		Log:         ptr(spec.Log, func(l podrec.LogConfig) types.LogConfig { return types.LogConfig(l) }),
		HostAliases: each(spec.HostAliases, func(a podrec.HostAlias) types.HostAlias { return types.HostAlias(a) }),
		Volumes:     each(spec.Volumes, loadedVolume),
		Files:       each(spec.Files, func(f podrec.File) types.File { return types.File(f) }),
		Ports:       each(spec.Ports, func(p podrec.PortMapping) types.PortMapping { return types.PortMapping(p) }),
		DNS:         ptr(spec.DNS, func(d podrec.DNS) types.DNSConfig { return types.DNSConfig(d) })}
}

func storedVolume(v types.Volume) podrec.Volume {
	return podrec.Volume{Name: v.Name,
		HostPath: ptr(v.HostPath, func(h types.HostPathVolumeSource) podrec.HostPathVolume { return podrec.HostPathVolume(h) }),
		EmptyDir: ptr(v.EmptyDir, func(e types.EmptyDirVolumeSource) podrec.EmptyDirVolume { return podrec.EmptyDirVolume(e) }),
		Named:    ptr(v.Named, func(n types.NamedVolumeSource) podrec.NamedVolume { return podrec.NamedVolume(n) })}
}

func loadedVolume(v podrec.Volume) types.Volume {
	return types.Volume{Name: v.Name,
		HostPath: ptr(v.HostPath, func(h podrec.HostPathVolume) types.HostPathVolumeSource { return types.HostPathVolumeSource(h) }),
		EmptyDir: ptr(v.EmptyDir, func(e podrec.EmptyDirVolume) types.EmptyDirVolumeSource { return types.EmptyDirVolumeSource(e) }),
		Named:    ptr(v.Named, func(n podrec.NamedVolume) types.NamedVolumeSource { return types.NamedVolumeSource(n) })}
}

func storedCtrSpec(c types.ContainerSpec) podrec.ContainerSpec {
	return podrec.ContainerSpec{Name: c.Name, Image: c.Image, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User, Tty: c.Tty, OpenStdin: c.OpenStdin, Labels: c.Labels,
		AdditionalGroups: c.AdditionalGroups, RestartPolicy: c.RestartPolicy, Sysctls: c.Sysctls, StopSignal: c.StopSignal,
		ReadOnlyRootfs: c.ReadOnlyRootfs, CapAdd: c.CapAdd, CapDrop: c.CapDrop, Privileged: c.Privileged,
		SecurityOpt: c.SecurityOpt, RunAsNonRoot: c.RunAsNonRoot, ShmSizeMB: c.ShmSizeMB,
		Healthcheck:  ptr(c.Healthcheck, func(h types.HealthConfig) podrec.Healthcheck { return podrec.Healthcheck(h) }),
		Resources:    ptr(c.Resources, func(r types.Resources) podrec.Resources { return podrec.Resources(r) }),
		VolumeMounts: each(c.VolumeMounts, func(m types.VolumeMount) podrec.VolumeMount { return podrec.VolumeMount(m) }),
		Files:        each(c.Files, func(f types.FileMount) podrec.FileMount { return podrec.FileMount(f) }),
		Ulimits:      each(c.Ulimits, func(u types.Ulimit) podrec.Ulimit { return podrec.Ulimit(u) })}
}

func loadedCtrSpec(c podrec.ContainerSpec) types.ContainerSpec {
	return types.ContainerSpec{Name: c.Name, Image: c.Image, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User, Tty: c.Tty, OpenStdin: c.OpenStdin, Labels: c.Labels,
		AdditionalGroups: c.AdditionalGroups, RestartPolicy: c.RestartPolicy, Sysctls: c.Sysctls, StopSignal: c.StopSignal,
		ReadOnlyRootfs: c.ReadOnlyRootfs, CapAdd: c.CapAdd, CapDrop: c.CapDrop, Privileged: c.Privileged,
		SecurityOpt: c.SecurityOpt, RunAsNonRoot: c.RunAsNonRoot, ShmSizeMB: c.ShmSizeMB,
		Healthcheck:  ptr(c.Healthcheck, func(h podrec.Healthcheck) types.HealthConfig { return types.HealthConfig(h) }),
		Resources:    ptr(c.Resources, func(r podrec.Resources) types.Resources { return types.Resources(r) }),
		VolumeMounts: each(c.VolumeMounts, func(m podrec.VolumeMount) types.VolumeMount { return types.VolumeMount(m) }),
		Files:        each(c.Files, func(f podrec.FileMount) types.FileMount { return types.FileMount(f) }),
		Ulimits:      each(c.Ulimits, func(u podrec.Ulimit) types.Ulimit { return types.Ulimit(u) })}
}

func storedProcess(p protocol.ProcessSpec) podrec.Process {
	return podrec.Process{Args: p.Args, Env: p.Env, Cwd: p.Cwd, User: p.User, AdditionalGroups: p.AdditionalGroups,
		Terminal: p.Terminal, Stdin: p.Stdin,
		Rlimits:         each(p.Rlimits, func(r protocol.Rlimit) podrec.Rlimit { return podrec.Rlimit(r) }),
		Capabilities:    ptr(p.Capabilities, func(c protocol.Capabilities) podrec.Capabilities { return podrec.Capabilities(c) }),
		NoNewPrivileges: p.NoNewPrivileges,
		Seccomp:         seccompProgram(p.Seccomp), OOMScoreAdj: p.OOMScoreAdj, Umask: p.Umask}
}

func loadedProcess(p podrec.Process) protocol.ProcessSpec {
	return protocol.ProcessSpec{Args: p.Args, Env: p.Env, Cwd: p.Cwd, User: p.User, AdditionalGroups: p.AdditionalGroups,
		Terminal: p.Terminal, Stdin: p.Stdin,
		Rlimits:         each(p.Rlimits, func(r podrec.Rlimit) protocol.Rlimit { return protocol.Rlimit(r) }),
		Capabilities:    ptr(p.Capabilities, func(c podrec.Capabilities) protocol.Capabilities { return protocol.Capabilities(c) }),
		NoNewPrivileges: p.NoNewPrivileges,
		Seccomp:         seccompFilter(p.Seccomp), OOMScoreAdj: p.OOMScoreAdj, Umask: p.Umask}
}

// seccompProgram is f's program; nil (no filter) stays nil.
func seccompProgram(f *protocol.SeccompFilter) []byte {
	if f == nil {
		return nil
	}
	return f.Program
}

// seccompFilter is the filter of program; none without one.
func seccompFilter(program []byte) *protocol.SeccompFilter {
	if len(program) == 0 {
		return nil
	}
	return &protocol.SeccompFilter{Program: program}
}

// each is f of every element of s; nil stays nil.
func each[S, T any](s []S, f func(S) T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// ptr is f of what p points to; nil stays nil.
func ptr[S, T any](p *S, f func(S) T) *T {
	if p == nil {
		return nil
	}
	v := f(*p)
	return &v
}
