package daemon

import (
	"slices"
	"sync"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
	"github.com/hyperhq/hyper/internal/secpolicy"
)

// Pod states as the API shows them: the sandbox's states are the same
// words.
const (
	stateCreated = types.StateCreated
	stateRunning = types.StateRunning
	stateExited  = types.StateExited
	stateFailed  = types.StateFailed
)

// record is a pod as the daemon works with it: the API's Pod and what
// hyperd adds. The state database keeps it in a schema of its own
// (podrec: stored and loaded, record.go).
type record struct {
	types.Pod
	Dir string
	// Procs are the containers' main processes, resolved against their
	// images at create time.
	Procs []protocol.ProcessSpec
	// InitProcs are the init containers' processes, likewise.
	InitProcs []protocol.ProcessSpec
	// VMID names the VM (short: it is part of socket paths).
	VMID string
	// Volumes are how the pod's volumes reach its VM.
	Volumes []podVolume
	// Serials maps the image IDs of the current (or last) run's VM to
	// their disks' serials (runSerials; nil in an older hyperd's records).
	Serials map[string]string
	// UserStopped: stopped or killed by its user, not started since
	// (restartpolicy.go).
	UserStopped bool
}

// ctrMeta is what hyperd keeps of a container beside the sandbox: its
// spec as the API gave it, and what the API shows of it.
type ctrMeta struct {
	spec    types.ContainerSpec
	image   string // as given
	imageID string
	command []string
	proc    protocol.ProcessSpec
}

// pod is one entry of the daemon's registry: the pod's sandbox (its VM
// lifecycle) and what hyperd adds to it: its name, spec, volumes and
// network, and its record in the state database.
//
// Lock order: Daemon.mu → Sandbox.change (a container change, held by
// Containers.Add/Remove end to end) → pod.mu → the sandbox's mu. pod.mu
// is never held across database I/O: saves go through one writer per pod
// (save). See docs/adr/0011-pod-core.md.
type pod struct {
	sb  *sandbox.Sandbox
	d   *Daemon
	mu  sync.Mutex
	rec record // the pod's own fields; containers and state come from the sandbox
	// meta holds the containers' API specs by name, including one being
	// added.
	meta map[string]ctrMeta
	// last is the newest status the sandbox saved; dirty, writing and
	// idle are the writer's (save).
	last    sandbox.Status
	dirty   bool
	writing bool
	gone    bool // forgotten: nothing is written any more
	idle    *sync.Cond
}

// newPod makes the registry entry of a recorded pod and its sandbox.
func (d *Daemon) newPod(rec record) *pod {
	p := &pod{d: d, rec: rec, meta: map[string]ctrMeta{}}
	p.idle = sync.NewCond(&p.mu)
	meta := func(cs types.ContainerSpec, c types.Container, proc protocol.ProcessSpec) sandbox.ContainerSpec {
		p.meta[cs.Name] = ctrMeta{spec: cs, image: c.Image, imageID: c.ImageID, command: c.Command, proc: proc}
		return sandboxContainer(rec, cs, c.ImageID, proc)
	}
	var inits, ctrs []sandbox.ContainerSpec
	last := sandbox.Status{State: sandbox.State(rec.State), Reason: rec.Reason, ExitCode: rec.ExitCode,
		StartedAt: rec.StartedAt, FinishedAt: rec.FinishedAt, VMPid: rec.VM.Pid, Accel: rec.VM.Accel, Serials: runSerials(rec),
		Paused: rec.Paused}
	for i, cs := range rec.Spec.InitContainers {
		inits = append(inits, meta(cs, rec.InitContainers[i], rec.InitProcs[i]))
		last.Inits = append(last.Inits, ctrStatus(rec.InitContainers[i]))
	}
	for i, cs := range rec.Spec.Containers {
		ctrs = append(ctrs, meta(cs, rec.Containers[i], rec.Procs[i]))
		last.Containers = append(last.Containers, ctrStatus(rec.Containers[i]))
	}
	p.last = last
	spec := rec.Spec
	p.sb = sandbox.New(&d.sbCfg, sandbox.Spec{ID: rec.ID, Name: rec.Name, VMID: rec.VMID, Dir: rec.Dir,
		VCPUs: or(spec.VCPUs, d.cfg.VCPUs), MemoryMB: or(spec.MemoryMB, d.cfg.MemoryMB), ScratchMB: d.cfg.ScratchMB,
		RestartPolicy: spec.RestartPolicy, AutoRemove: spec.AutoRemove, Events: p.sandboxEvent,
		LogMaxSize: logMaxSize(spec), LogMaxFiles: logMaxFiles(spec)}, inits, ctrs, last, podStore{p})
	return p
}

func ctrStatus(c types.Container) sandbox.ContainerStatus {
	return sandbox.ContainerStatus{Name: c.Name, State: sandbox.CtrState(c.State), ExitCode: c.ExitCode, Pid: c.Pid,
		RestartCount: c.RestartCount, OOMKilled: c.OOMKilled}
}

// sandboxContainer is container cs of pod rec as its sandbox runs it.
func sandboxContainer(rec record, cs types.ContainerSpec, imageID string, proc protocol.ProcessSpec) sandbox.ContainerSpec {
	masked, readonly := secpolicy.Paths(cs)
	return sandbox.ContainerSpec{Name: cs.Name, Image: imageID, Process: proc,
		Guest: protocol.ContainerSpec{ID: cs.Name, Rootfs: protocol.RootfsSpec{ReadOnly: cs.ReadOnlyRootfs},
			Mounts: containerMounts(rec, cs), Files: containerFiles(rec.Spec.Files, cs),
			MaskedPaths: masked, ReadonlyPaths: readonly, Privileged: cs.Privileged, ShmSizeMB: cs.ShmSizeMB,
			Resources: cgroupLimits(cs.Resources)},
		RestartPolicy: cs.RestartPolicy, StopSignal: stopSignal(cs)}
}

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// name is the pod's name.
func (p *pod) name() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rec.Name
}

// snapshot is the pod as the API shows it now.
func (p *pod) snapshot() types.Pod {
	st := p.sb.Status()
	p.mu.Lock()
	pod := p.record(st).Pod
	p.mu.Unlock()
	p.d.health.fill(&pod)
	return pod
}

// record is the pod's record with the sandbox's status st. Called with
// p.mu held.
func (p *pod) record(st sandbox.Status) record {
	rec := p.rec
	rec.Spec.Containers, rec.Spec.InitContainers = nil, nil
	rec.Containers, rec.InitContainers, rec.Procs, rec.InitProcs = nil, nil, nil, nil
	rec.State, rec.Reason, rec.ExitCode = string(st.State), st.Reason, st.ExitCode
	rec.Paused = st.Paused
	rec.StartedAt, rec.FinishedAt = st.StartedAt, st.FinishedAt
	rec.VM = types.VMInfo{Pid: st.VMPid, Accel: st.Accel}
	rec.Serials = st.Serials
	for _, cs := range st.Inits {
		m := p.meta[cs.Name]
		rec.Spec.InitContainers = append(rec.Spec.InitContainers, m.spec)
		rec.InitContainers = append(rec.InitContainers, m.container(cs, true))
		rec.InitProcs = append(rec.InitProcs, m.proc)
	}
	for _, cs := range st.Containers {
		m := p.meta[cs.Name]
		rec.Spec.Containers = append(rec.Spec.Containers, m.spec)
		rec.Containers = append(rec.Containers, m.container(cs, false))
		rec.Procs = append(rec.Procs, m.proc)
	}
	return rec
}

func (m ctrMeta) container(cs sandbox.ContainerStatus, init bool) types.Container {
	return types.Container{Name: cs.Name, Image: m.image, ImageID: m.imageID, State: string(cs.State),
		ExitCode: cs.ExitCode, Pid: cs.Pid, Command: slices.Clone(m.command), RestartCount: cs.RestartCount, Init: init,
		OOMKilled: cs.OOMKilled}
}

// podStore is how a pod's sandbox persists its status.
type podStore struct{ p *pod }

// Save implements sandbox.Store.
func (s podStore) Save(st sandbox.Status) {
	p := s.p
	p.mu.Lock()
	if st.Seq >= p.last.Seq {
		p.last = st
	}
	p.mu.Unlock()
	p.save()
}

// Delete implements sandbox.Store: the pod is auto-removed. Its files go
// once its VM is gone.
func (s podStore) Delete() {
	p, d := s.p, s.p.d
	d.mu.Lock()
	d.leaving[p.rec.ID] = p // Close waits for its VM too
	d.mu.Unlock()
	if err := d.forget(p); err != nil {
		d.log.Warn("auto-removing pod", "err", err)
	}
	p.publish(types.ActionDestroy, "", nil)
	go func() {
		<-p.sb.VMGone()
		if err := d.removeFiles(p); err != nil {
			d.log.Warn("auto-removing pod", "err", err)
		}
		d.mu.Lock()
		delete(d.leaving, p.rec.ID)
		d.mu.Unlock()
	}()
}

// save writes the pod's record, newest state first: one writer at a time
// per pod, no lock held while it writes; a save that comes while one is
// being written is folded into the next write.
func (p *pod) save() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dirty = true
	if p.writing {
		return
	}
	p.writing = true
	for p.dirty && !p.gone {
		p.dirty = false
		rec := p.record(p.last)
		p.mu.Unlock()
		err := p.d.db.Put(podsBucket, rec.ID, stored(rec))
		p.mu.Lock()
		if err != nil {
			p.d.log.Error("saving pod state", "pod", rec.ID, "err", err)
		}
	}
	p.writing = false
	p.idle.Broadcast()
}

// stopSaving ends the pod's writes (it is being forgotten) and waits for
// one in progress.
func (p *pod) stopSaving() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gone = true
	for p.writing {
		p.idle.Wait()
	}
}
