package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/vm"
)

// Containers adapts the daemon to api.Containers: containers added to and
// removed from existing pods, running or not (ADR 0007). A pod that is not
// running only has its record changed; a running one also has the
// container created (and its image disk hot-added) or removed in its VM.
type Containers struct{ d *Daemon }

// Containers returns the daemon's api.Containers.
func (d *Daemon) Containers() Containers { return Containers{d} }

// runRefs counts what holds a run: each supervised container, and each
// addition or removal in progress. The run ends (done is closed) when the
// count falls to zero; it cannot be held again then. Its fields are
// guarded by the pod's mu.
type runRefs struct {
	n    int
	done chan struct{}
	// status is the last exit status of each container whose
	// supervision ended; nil when the guest went away.
	status map[string]*protocol.ExitStatus
}

// newRunRefs starts with one reference: supervise's own.
func newRunRefs() *runRefs {
	return &runRefs{n: 1, done: make(chan struct{}), status: map[string]*protocol.ExitStatus{}}
}

// hold takes a reference unless the run has ended.
func (r *runRefs) hold() bool {
	if r == nil || r.n == 0 {
		return false
	}
	r.n++
	return true
}

func (r *runRefs) release() {
	r.n--
	if r.n == 0 {
		close(r.done)
	}
}

// watch supervises container name for the rest of the run. The caller
// holds a reference to the run for it, released when the supervision ends.
func (d *Daemon) watch(p *pod, v *vm.VM, refs *runRefs, name string) {
	ended := make(chan struct{})
	p.mu.Lock()
	if i, ok := p.ctrIndex(name); ok {
		p.ctrs[i].ended = ended
	}
	p.mu.Unlock()
	go func() {
		st := d.superviseCtr(p, v, name)
		p.mu.Lock()
		refs.status[name] = st
		close(ended)
		refs.release()
		p.mu.Unlock()
	}()
}

// imageDisk is image id's root filesystem as a disk of a pod's VM. The
// holds of the pods using it are brought up to date first: one that is
// starting holds it as running from now on.
func (d *Daemon) imageDisk(ctx context.Context, id string) (hypervisor.Disk, error) {
	d.syncImageHolds(id)
	path, err := d.images.Rootfs(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		// Not "no such pod": the pod exists, its image went.
		return hypervisor.Disk{}, errdefs.Conflict("image %s was removed after the pod was created: pull or load it again", shortID(id))
	}
	if err != nil {
		return hypervisor.Disk{}, err
	}
	return hypervisor.Disk{Path: path, Serial: imageSerial(id), ReadOnly: true, Bus: hypervisor.BusSCSI}, nil
}

// Add implements api.Containers: the container joins the pod for good (it
// runs again when the pod is started again). In a running pod it is
// started at once, its image disk hot-added unless the VM has it.
func (x Containers) Add(ctx context.Context, ref string, cs types.ContainerSpec) (types.CreateResponse, error) {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return types.CreateResponse{}, err
	}
	p.changing.Lock()
	defer p.changing.Unlock()
	p.mu.Lock()
	check, podName, vols := p.rec.Spec, p.rec.Name, p.rec.Volumes
	user, _ := p.imageUser()
	holder := p.rec.ID + "/adding" // additions to a pod are serialized
	if cs.Name == "" {
		cs.Name = p.freeName(podName)
	}
	taken := p.hasContainer(cs.Name)
	p.mu.Unlock()
	if err := checkAddedMounts(vols, cs); err != nil {
		return types.CreateResponse{}, err
	}
	// The pod's spec with only this container: its volumes and files are
	// the pod's, its ports are not checked again (the pod holds them).
	check.Ports, check.InitContainers, check.Containers = nil, nil, []types.ContainerSpec{cs}
	warnings, err := checkSpec(check)
	if err != nil {
		return types.CreateResponse{}, err
	}
	if !validName.MatchString(cs.Name) {
		return types.CreateResponse{}, errdefs.InvalidArgument("invalid container name %q: use letters, digits, '_', '.', '-' (at most 63)", cs.Name)
	}
	if taken {
		return types.CreateResponse{}, errdefs.Conflict("pod %s already has a container named %q", podName, cs.Name)
	}
	proc, c, err := d.resolveContainer(ctx, &cs)
	if err != nil {
		return types.CreateResponse{}, err
	}
	// Held while the container is being added, until the pod's own hold
	// has its image (or the addition failed).
	if err := d.images.Hold(holder, user, c.ImageID); err != nil {
		return types.CreateResponse{}, fmt.Errorf("container %s: %w", cs.Name, err)
	}
	defer func() {
		d.syncImageHolds(c.ImageID)
		d.images.Release(holder)
	}()
	p.mu.Lock()
	switch {
	case p.removing:
		p.mu.Unlock()
		return types.CreateResponse{}, errdefs.Conflict("pod %s is being removed", podName)
	case p.starting:
		p.mu.Unlock()
		return types.CreateResponse{}, errdefs.Conflict("pod %s is starting: add the container once it runs", podName)
	case len(distinctImages(p.rec.InitContainers, p.rec.Containers, []types.Container{c})) > maxImagesPerPod:
		p.mu.Unlock()
		return types.CreateResponse{}, errdefs.InvalidArgument("pod %s would use more than %d distinct images", podName, maxImagesPerPod)
	}
	v, refs := p.vm, p.refs
	if v == nil { // not running: the container starts with the pod
		p.appendContainer(cs, c, proc)
		p.mu.Unlock()
		d.save(p)
		return types.CreateResponse{ID: cs.Name, Warnings: warnings}, nil
	}
	if p.stopping || !refs.hold() {
		p.mu.Unlock()
		return types.CreateResponse{}, errdefs.Conflict("pod %s is stopping", podName)
	}
	p.mu.Unlock()
	if err := d.addToRun(ctx, p, v, refs, cs, c, proc); err != nil {
		p.mu.Lock()
		refs.release()
		p.mu.Unlock()
		return types.CreateResponse{}, fmt.Errorf("adding container %s to pod %s: %w", cs.Name, podName, err)
	}
	return types.CreateResponse{ID: cs.Name, Warnings: warnings}, nil
}

// addToRun creates and starts a container in a running pod; on success
// its supervision takes over the caller's reference to the run. On
// failure, what was done is undone.
func (d *Daemon) addToRun(ctx context.Context, p *pod, v *vm.VM, refs *runRefs, cs types.ContainerSpec, c types.Container, proc protocol.ProcessSpec) error {
	var undo cleanup.Cleanup
	defer undo.Clean()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute) // for undoing
	defer cancel()
	p.mu.Lock()
	serials := runSerials(p.rec)
	serial, attached := serials[c.ImageID]
	rec := p.rec
	p.mu.Unlock()
	if !attached {
		disk, err := d.imageDisk(ctx, c.ImageID)
		if err != nil {
			return err
		}
		serial = disk.Serial
		switch err := v.AddDisk(ctx, disk); {
		case errors.Is(err, errdefs.ErrConflict):
			// The VM has it: left by a removal cut short. Use it.
		case err != nil:
			return err
		default:
			undo.Add(func() {
				if err := v.RemoveDisk(bg, serial); err != nil {
					d.log.Warn("removing disk of a container not added", "serial", serial, "err", err)
				}
			})
		}
	}
	// A container of this name may be left in the guest by an addition
	// that hyperd's crash cut short.
	if err := discardGuest(ctx, v.Guest, cs.Name); err != nil {
		return err
	}
	if err := v.Guest.CreateContainer(ctx, guestContainer(rec, cs.Name, cs, serial)); err != nil {
		return err
	}
	undo.Add(func() {
		if err := discardGuest(bg, v.Guest, cs.Name); err != nil {
			d.log.Warn("removing container not added", "container", cs.Name, "err", err)
		}
	})
	p.mu.Lock()
	p.appendContainer(cs, c, proc)
	p.mu.Unlock()
	undo.Add(func() {
		p.mu.Lock()
		p.dropContainer(cs.Name)
		p.mu.Unlock()
	})
	if err := d.startMain(ctx, p, cs.Name, v.Guest); err != nil {
		return err
	}
	p.mu.Lock()
	i, _ := p.ctrIndex(cs.Name)
	p.rec.Containers[i].State, p.rec.Containers[i].Pid = stateRunning, p.ctrs[i].proc.Pid
	m := maps.Clone(serials)
	m[c.ImageID] = serial
	p.rec.Serials = m
	stopping := p.stopping
	p.mu.Unlock()
	undo.Release()
	d.save(p)
	d.watch(p, v, refs, cs.Name)
	if stopping { // Stop came while the container was being added
		err := v.Guest.StopContainer(bg, protocol.StopRequest{Container: cs.Name, Signal: stopSignal(cs), GraceMillis: defaultStopGrace.Milliseconds()})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			d.log.Warn("stopping added container", "container", cs.Name, "err", err)
		}
	}
	return nil
}

// Remove implements api.Containers. A running container needs force: it
// is killed. The image disk goes with the last container of the pod using
// it. The pod's last container cannot be removed: the pod is removed then
// (a pod without containers would have nothing to run).
func (x Containers) Remove(ctx context.Context, ref, name string, force bool) error {
	d := x.d
	if name == "" {
		return errdefs.InvalidArgument("empty container name")
	}
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.changing.Lock()
	defer p.changing.Unlock()
	for {
		p.mu.Lock()
		podName := p.rec.Name
		i, ok := p.ctrIndex(name)
		var err error
		switch {
		case !ok && p.hasContainer(name):
			err = errdefs.InvalidArgument("%s is an init container of pod %s: init containers are part of the pod's start", name, podName)
		case !ok:
			err = errdefs.NotFound("pod %s has no container %q", podName, name)
		case len(p.rec.Containers) == 1:
			err = errdefs.Conflict("%s is the only container of pod %s: remove the pod (hyperctl rm %s)", name, podName, podName)
		case p.removing:
			err = errdefs.Conflict("pod %s is being removed", podName)
		case p.starting:
			err = errdefs.Conflict("pod %s is starting", podName)
		case p.rec.Containers[i].State == stateRunning && !force:
			err = errdefs.Conflict("container %s is running: stop the pod, or use force", name)
		}
		if err != nil {
			p.mu.Unlock()
			return err
		}
		if p.vm == nil { // not running: only the record changes
			dir := p.rec.Dir
			p.dropContainer(name)
			p.mu.Unlock()
			d.save(p)
			d.ctrLogs.remove(dir, name)
			return nil
		}
		if p.refs.hold() {
			break // p.mu still held
		}
		exited := p.exited // the run is ending: remove from the record once it did
		p.mu.Unlock()
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	i, _ := p.ctrIndex(name) // p.mu was held since it was found
	c, v, refs := p.ctrs[i], p.vm, p.refs
	if !isClosed(c.removed) {
		close(c.removed) // no more restarts
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		refs.release()
		p.mu.Unlock()
	}()
	return d.removeFromRun(ctx, p, v, name, c)
}

// removeFromRun kills container name in a running pod, removes it from
// the guest, the record, and the VM's disks when its image is no longer
// used. Once begun it is not cut short by ctx: a half-removed container
// would be neither running nor gone.
func (d *Daemon) removeFromRun(ctx context.Context, p *pod, v *vm.VM, name string, c *ctr) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	err := discardGuest(ctx, v.Guest, name)
	if err != nil && !isClosed(v.Done()) {
		return fmt.Errorf("removing container %s: %w", name, err)
	}
	p.mu.Lock()
	ended, delivered := c.ended, c.delivered
	p.mu.Unlock()
	if ended != nil { // its supervision saw the exit
		select {
		case <-ended:
		case <-ctx.Done():
			return fmt.Errorf("removing container %s: %w", name, ctx.Err())
		}
	}
	if delivered != nil { // its last output is in the log (bounded, as elsewhere)
		select {
		case <-delivered:
		case <-time.After(5 * time.Second):
		}
	}
	p.mu.Lock()
	if c.proc != nil {
		c.proc.Close()
	}
	p.rec.Serials = runSerials(p.rec) // before the record changes (older records)
	img := ""
	if i, ok := p.ctrIndex(name); ok { // it is: additions and removals are serialized
		img = p.rec.Containers[i].ImageID
	}
	p.dropContainer(name)
	serial, attached := p.rec.Serials[img]
	used := slices.ContainsFunc(p.rec.Containers, func(c types.Container) bool { return c.ImageID == img })
	dir := p.rec.Dir
	p.mu.Unlock()
	d.save(p)
	d.ctrLogs.remove(dir, name)
	if !attached || used {
		return nil
	}
	if err := v.RemoveDisk(ctx, serial); err != nil {
		// The disk stays in the VM (and in Serials): an addition of its
		// image uses it again.
		d.log.Warn("removing the disk of a removed container", "container", name, "serial", serial, "err", err)
		return nil
	}
	p.mu.Lock()
	m := maps.Clone(p.rec.Serials)
	delete(m, img)
	p.rec.Serials = m
	p.mu.Unlock()
	d.save(p)
	return nil
}

// discardGuest kills every process of a container in the guest and
// removes it; a container the guest does not have is no error.
func discardGuest(ctx context.Context, g *guest.Client, name string) error {
	err := g.StopContainer(ctx, protocol.StopRequest{Container: name, Signal: 9})
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return removeContainer(ctx, g, name)
}

// freeName is the first of pod-1, pod-2... no container has. Called with
// p.mu held.
func (p *pod) freeName(podName string) string {
	for n := 1; ; n++ {
		if name := fmt.Sprintf("%s-%d", podName, n); !p.hasContainer(name) {
			return name
		}
	}
}

// hasContainer tells whether a container or init container is named name.
// Called with p.mu held.
func (p *pod) hasContainer(name string) bool {
	_, isCtr := p.ctrIndex(name)
	_, isInit := p.initIndex(name)
	return name != "" && (isCtr || isInit)
}

// appendContainer adds a container to the pod's record and run state.
// Slices are copied, never changed in place: snapshots of the record share
// them. Called with p.mu held.
func (p *pod) appendContainer(cs types.ContainerSpec, c types.Container, proc protocol.ProcessSpec) {
	p.rec.Spec.Containers = append(slices.Clip(p.rec.Spec.Containers), cs)
	p.rec.Containers = append(slices.Clip(p.rec.Containers), c)
	p.rec.Procs = append(slices.Clip(p.rec.Procs), proc)
	nc := newCtr(cs.OpenStdin)
	if p.rec.State == stateExited || p.rec.State == stateFailed {
		close(nc.done) // as newPod: attaching waits for the next run
	}
	p.ctrs = append(slices.Clip(p.ctrs), nc)
	p.outs = append(slices.Clip(p.outs), &fanout{})
}

// dropContainer removes a container from the pod's record and run state;
// its attached clients and log followers are released. Called with p.mu
// held.
func (p *pod) dropContainer(name string) {
	i, ok := p.ctrIndex(name)
	if !ok {
		return
	}
	c := p.ctrs[i]
	if !isClosed(c.done) {
		close(c.done)
	}
	if c.stdinR != nil {
		c.stdinR.Close()
	}
	p.rec.Spec.Containers = slices.Delete(slices.Clone(p.rec.Spec.Containers), i, i+1)
	p.rec.Containers = slices.Delete(slices.Clone(p.rec.Containers), i, i+1)
	p.rec.Procs = slices.Delete(slices.Clone(p.rec.Procs), i, i+1)
	p.ctrs = slices.Delete(slices.Clone(p.ctrs), i, i+1)
	p.outs = slices.Delete(slices.Clone(p.outs), i, i+1)
	if p.refs != nil {
		delete(p.refs.status, name)
	}
}

// distinctImages lists the distinct image IDs of containers.
func distinctImages(lists ...[]types.Container) []string {
	var ids []string
	for _, cs := range lists {
		for _, c := range cs {
			if !slices.Contains(ids, c.ImageID) {
				ids = append(ids, c.ImageID)
			}
		}
	}
	return ids
}
