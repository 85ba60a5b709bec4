package sandbox

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hyperhq/hyper/internal/cleanup"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Change is the critical section of container additions and removals:
// the caller checks what it must against the sandbox (names, limits)
// and then calls AddContainer or RemoveContainer before Done, so that
// no other change slips in between.
type Change struct{ s *Sandbox }

// BeginChange starts a change of the sandbox's containers; Done ends it.
func (s *Sandbox) BeginChange() Change {
	s.change.Lock()
	return Change{s}
}

// Done ends the change.
func (c Change) Done() { c.s.change.Unlock() }

// HasName tells whether a container or init container is named name.
func (s *Sandbox) HasName(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := findCtr(s.ctrs, s.inits, name)
	return name != "" && ok
}

// Images lists the distinct images of the sandbox's containers.
func (s *Sandbox) Images() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return distinctImages(s.inits, s.ctrs)
}

// Rootfs gives the root file system disk of an added container's image;
// it is asked for only when a running VM has no disk of that image yet.
type Rootfs func(ctx context.Context) (hypervisor.Disk, error)

// AddContainer adds a container for good (it runs again when the pod is
// started again). In a running pod it is started at once, its root file
// system disk (rootfs) hot-added unless the VM has the image's already;
// on failure what was done is undone.
func (ch Change) AddContainer(ctx context.Context, cs ContainerSpec, rootfs Rootfs) error {
	s := ch.s
	s.mu.Lock()
	if _, taken := findCtr(s.ctrs, s.inits, cs.Name); taken {
		s.mu.Unlock()
		return errdefs.Conflict("pod %s already has a container named %q", s.spec.Name, cs.Name)
	}
	switch r := s.run; {
	case s.removing:
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is being removed", s.spec.Name)
	case r != nil && r.vm == nil:
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is starting: add the container once it runs", s.spec.Name)
	case r == nil: // not running: the container starts with the pod
		s.appendContainer(cs)
		s.mu.Unlock()
		s.save()
		return nil
	case r.stopping || !r.refs.hold():
		s.mu.Unlock()
		return errdefs.Conflict("pod %s is stopping", s.spec.Name)
	}
	r := s.run
	s.mu.Unlock()
	if err := r.addToRun(ctx, cs, rootfs); err != nil {
		s.mu.Lock()
		r.refs.release()
		s.mu.Unlock()
		return fmt.Errorf("adding container %s to pod %s: %w", cs.Name, s.spec.Name, err)
	}
	return nil
}

// appendContainer adds a container. Slices are copied, never changed in
// place: a run's boot holds its own. Called with mu held.
func (s *Sandbox) appendContainer(cs ContainerSpec) *container {
	c := newContainer(cs, false)
	if s.st.state == Exited || s.st.state == Failed {
		c.io.end() // as New: attaching waits for the next run
	}
	s.ctrs = append(slices.Clip(s.ctrs), c)
	return c
}

// dropContainer removes a container; its attached clients and log
// followers are released. Called with mu held.
func (s *Sandbox) dropContainer(c *container) {
	i := slices.Index(s.ctrs, c)
	if i < 0 {
		return
	}
	c.io.end()
	s.ctrs = slices.Delete(slices.Clone(s.ctrs), i, i+1)
	if s.run != nil {
		delete(s.run.refs.status, c.spec.Name)
	}
}

// addToRun creates and starts a container in a running pod; on success
// its supervision takes over the caller's reference to the run.
func (r *run) addToRun(ctx context.Context, cs ContainerSpec, rootfs Rootfs) error {
	s := r.s
	var undo cleanup.Cleanup
	defer undo.Clean()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute) // for undoing
	defer cancel()
	v := r.vm
	s.mu.Lock()
	serial, attached := s.st.serials[cs.Image]
	s.mu.Unlock()
	if !attached {
		disk, err := rootfs(ctx)
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
					s.log.Warn("removing disk of a container not added", "serial", serial, "err", err)
				}
			})
		}
	}
	// A container of this name may be left in the guest by an addition
	// that the host process's crash cut short.
	if err := discardGuest(ctx, v.Guest, cs.Name); err != nil {
		return err
	}
	if err := v.Guest.CreateContainer(ctx, guestSpec(cs, serial)); err != nil {
		return err
	}
	undo.Add(func() {
		if err := discardGuest(bg, v.Guest, cs.Name); err != nil {
			s.log.Warn("removing container not added", "container", cs.Name, "err", err)
		}
	})
	s.mu.Lock()
	c := s.appendContainer(cs)
	s.mu.Unlock()
	undo.Add(func() {
		s.mu.Lock()
		s.dropContainer(c)
		s.mu.Unlock()
	})
	if err := r.startMain(ctx, c, v); err != nil {
		return err
	}
	s.mu.Lock()
	s.ctrTo(c, CtrRunning)
	c.status.Pid = c.io.proc.Pid
	m := maps.Clone(s.st.serials)
	if m == nil {
		m = map[string]string{}
	}
	m[cs.Image] = serial
	s.st.serials = m
	stopping := r.stopping
	ev := startEvent(c)
	s.mu.Unlock()
	undo.Release()
	s.save()
	s.emit(ev)
	r.watch(c)
	if stopping { // Stop came while the container was being added
		err := v.Guest.StopContainer(bg, protocol.StopRequest{Container: cs.Name, Signal: cs.StopSignal, GraceMillis: defaultStopGrace.Milliseconds()})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.Warn("stopping added container", "container", cs.Name, "err", err)
		}
	}
	return nil
}

// RemoveContainer removes main container name. A running container needs
// force: it is killed. The image disk goes with the last container of the
// pod using it. The pod's last container cannot be removed (a pod without
// containers would have nothing to run), unless the sandbox is
// Persistent.
func (ch Change) RemoveContainer(ctx context.Context, name string, force bool) error {
	s := ch.s
	if name == "" {
		return errdefs.InvalidArgument("empty container name")
	}
	var c *container
	var r *run
	for {
		s.mu.Lock()
		found, ok := findCtr(s.ctrs, s.inits, name)
		var err error
		switch {
		case ok && found.init:
			err = errdefs.InvalidArgument("%s is an init container of pod %s: init containers are part of the pod's start", name, s.spec.Name)
		case !ok:
			err = errdefs.NotFound("pod %s has no container %q", s.spec.Name, name)
		case len(s.ctrs) == 1 && !s.spec.Persistent:
			err = errdefs.Conflict("%s is the only container of pod %s: remove the pod", name, s.spec.Name)
		case s.removing:
			err = errdefs.Conflict("pod %s is being removed", s.spec.Name)
		case s.run != nil && s.run.vm == nil:
			err = errdefs.Conflict("pod %s is starting", s.spec.Name)
		case found.status.State == CtrRunning && !force:
			err = errdefs.Conflict("container %s is running: stop the pod, or use force", name)
		}
		if err != nil {
			s.mu.Unlock()
			return err
		}
		if s.run == nil { // not running: only the record changes
			s.dropContainer(found)
			s.mu.Unlock()
			s.save()
			s.logs.remove(name)
			return nil
		}
		if s.run.refs.hold() {
			c, r = found, s.run
			break // mu still held
		}
		exited := s.exited // the run is ending: remove from the record once it did
		s.mu.Unlock()
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.io.markRemoved() // no more restarts
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		r.refs.release()
		s.mu.Unlock()
	}()
	return r.removeFromRun(ctx, c)
}

// removeFromRun kills container c in a running pod, removes it from the
// guest, the sandbox, and the VM's disks when its image is no longer
// used. Once begun it is not cut short by ctx: a half-removed container
// would be neither running nor gone.
func (r *run) removeFromRun(ctx context.Context, c *container) error {
	s := r.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	v, name := r.vm, c.spec.Name
	err := discardGuest(ctx, v.Guest, name)
	if err != nil && !isClosed(v.Done()) {
		return fmt.Errorf("removing container %s: %w", name, err)
	}
	s.mu.Lock()
	ended, delivered := c.io.ended, c.io.delivered
	s.mu.Unlock()
	if ended != nil { // its supervision saw the exit
		select {
		case <-ended:
		case <-ctx.Done():
			return fmt.Errorf("removing container %s: %w", name, ctx.Err())
		}
		// A restart that was past its last check when the removal began
		// may have created the container again: it goes too.
		if err := discardGuest(ctx, v.Guest, name); err != nil && !isClosed(v.Done()) {
			return fmt.Errorf("removing container %s: %w", name, err)
		}
	}
	if delivered != nil { // its last output is in the log (bounded, as elsewhere)
		select {
		case <-delivered:
		case <-time.After(deliverTimeout):
		}
	}
	s.mu.Lock()
	proc := c.io.proc
	img := c.spec.Image
	s.dropContainer(c)
	serial, attached := s.st.serials[img]
	used := slices.ContainsFunc(s.ctrs, func(o *container) bool { return o.spec.Image == img })
	s.mu.Unlock()
	if proc != nil {
		proc.Close() // closing its streams writes to the guest's connection
	}
	s.save()
	s.logs.remove(name)
	if !attached || used {
		return nil
	}
	if err := v.RemoveDisk(ctx, serial); err != nil {
		// The disk stays in the VM (and in serials): an addition of its
		// image uses it again.
		s.log.Warn("removing the disk of a removed container", "container", name, "serial", serial, "err", err)
		return nil
	}
	s.mu.Lock()
	m := maps.Clone(s.st.serials)
	delete(m, img)
	s.st.serials = m
	s.mu.Unlock()
	s.save()
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
	return removeGuestContainer(ctx, g, name)
}
