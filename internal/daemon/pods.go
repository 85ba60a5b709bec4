package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/image"
	"github.com/hyperhq/hyper/internal/protocol"
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// Pods adapts the daemon to api.Pods: the pods' lifecycle (Start, in
// run.go, boots a pod's VM).
type Pods struct{ d *Daemon }

var _ api.Pods = Pods{}

// Pods returns the daemon's api.Pods.
func (d *Daemon) Pods() Pods { return Pods{d} }

// Create implements api.Pods: it validates the spec, resolves images and
// commands, and records the pod. Nothing runs yet.
func (x Pods) Create(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error) {
	d := x.d
	id := newID()
	if spec.Name == "" {
		spec.Name = "pod-" + id[:8]
	}
	if !validName.MatchString(spec.Name) {
		return types.CreateResponse{}, errdefs.InvalidArgument("invalid pod name %q: use letters, digits, '_', '.', '-' (at most 63)", spec.Name)
	}
	if len(spec.Containers) == 0 {
		return types.CreateResponse{}, errdefs.InvalidArgument("pod %s has no containers", spec.Name)
	}
	if spec.VCPUs < 0 || spec.MemoryMB < 0 {
		return types.CreateResponse{}, errdefs.InvalidArgument("negative resources")
	}
	if spec.MemoryMB != 0 && spec.MemoryMB < 64 {
		return types.CreateResponse{}, errdefs.InvalidArgument("memory %d MB is below the guest's minimum of 64 MB", spec.MemoryMB)
	}
	warnings, err := checkSpec(spec)
	if err != nil {
		return types.CreateResponse{}, err
	}
	plan, volWarnings, err := d.vols.plan(spec)
	if err != nil {
		return types.CreateResponse{}, err
	}
	warnings = append(warnings, volWarnings...)
	if spec.Hostname == "" {
		spec.Hostname = id[:12]
	}
	rec := record{Pod: types.Pod{ID: id, Name: spec.Name, State: stateCreated, Created: time.Now().UTC(), Spec: spec},
		Dir: filepath.Join(d.cfg.Root, "pods", id), VMID: id[:16], Volumes: plan}
	seen := map[string]bool{}
	images := map[string]bool{}
	resolve := func(cs *types.ContainerSpec, defName string) (protocol.ProcessSpec, types.Container, error) {
		if cs.Name == "" {
			cs.Name = defName
		}
		if !validName.MatchString(cs.Name) || seen[cs.Name] {
			return protocol.ProcessSpec{}, types.Container{}, errdefs.InvalidArgument("invalid or duplicate container name %q", cs.Name)
		}
		seen[cs.Name] = true
		proc, c, err := d.resolveContainer(ctx, cs)
		if err == nil {
			images[c.ImageID] = true
		}
		return proc, c, err
	}
	for i := range rec.Spec.InitContainers {
		proc, c, err := resolve(&rec.Spec.InitContainers[i], fmt.Sprintf("%s-init-%d", spec.Name, i))
		if err != nil {
			return types.CreateResponse{}, err
		}
		c.Init = true
		proc.Stdin = false // nobody attaches to an init container: stdin is /dev/null
		rec.InitProcs = append(rec.InitProcs, proc)
		rec.InitContainers = append(rec.InitContainers, c)
	}
	for i := range rec.Spec.Containers {
		def := spec.Name
		if i > 0 {
			def = fmt.Sprintf("%s-%d", spec.Name, i)
		}
		proc, c, err := resolve(&rec.Spec.Containers[i], def)
		if err != nil {
			return types.CreateResponse{}, err
		}
		rec.Procs = append(rec.Procs, proc)
		rec.Containers = append(rec.Containers, c)
	}
	if len(images) > maxImagesPerPod {
		return types.CreateResponse{}, errdefs.InvalidArgument("pod %s uses %d distinct images: at most %d per pod",
			spec.Name, len(images), maxImagesPerPod)
	}
	if err := d.vols.ensure(id, rec.Volumes); err != nil { // last: named volumes are created on first use
		return types.CreateResponse{}, err
	}
	if err := os.MkdirAll(filepath.Join(rec.Dir, "logs"), 0o700); err != nil {
		return types.CreateResponse{}, fmt.Errorf("creating pod dir: %w", err)
	}
	// Held before the pod is recorded: an image removed since it was
	// resolved fails the creation, one removed later is refused (holds.go).
	if err := d.images.Hold(id, image.User{Name: spec.Name}, distinctImages(rec.InitContainers, rec.Containers)...); err != nil {
		os.RemoveAll(rec.Dir)
		return types.CreateResponse{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.pods {
		if p.name() == spec.Name {
			os.RemoveAll(rec.Dir)
			d.images.Release(id)
			return types.CreateResponse{}, errdefs.Conflict("the name %q is already used by pod %s", spec.Name, p.snapshot().ID[:12])
		}
	}
	if err := d.db.Create(podsBucket, id, rec); err != nil {
		os.RemoveAll(rec.Dir)
		d.images.Release(id)
		return types.CreateResponse{}, err
	}
	d.pods[id] = newPod(rec)
	return types.CreateResponse{ID: id, Warnings: warnings}, nil
}

// resolveContainer resolves a named container's image and command; cs
// takes the image's defaults (stop signal, labels).
func (d *Daemon) resolveContainer(ctx context.Context, cs *types.ContainerSpec) (protocol.ProcessSpec, types.Container, error) {
	img, err := d.images.Get(ctx, cs.Image)
	if err != nil {
		return protocol.ProcessSpec{}, types.Container{}, fmt.Errorf("container %s: %w", cs.Name, err)
	}
	proc, err := resolveProcess(*cs, img.Config.Entrypoint, img.Config.Cmd, img.Config.Env, img.Config.WorkingDir, img.Config.User)
	if err != nil {
		return protocol.ProcessSpec{}, types.Container{}, fmt.Errorf("container %s: %w", cs.Name, err)
	}
	applyExtras(&proc, *cs)
	imageDefaults(cs, img.Config.StopSignal, img.Config.Labels)
	return proc, types.Container{Name: cs.Name, Image: cs.Image, ImageID: img.ID, State: stateCreated, Command: proc.Args}, nil
}

// resolveProcess combines a container spec with its image's config, as
// docker does: an explicit entrypoint resets the image's Cmd.
func resolveProcess(cs types.ContainerSpec, entry, cmd, env []string, wd, user string) (protocol.ProcessSpec, error) {
	if cs.Entrypoint != nil {
		entry = cs.Entrypoint
		cmd = nil
	}
	if cs.Cmd != nil {
		cmd = cs.Cmd
	}
	args := append(append([]string(nil), entry...), cmd...)
	if len(args) == 0 {
		return protocol.ProcessSpec{}, errdefs.InvalidArgument("no command specified and the image has none")
	}
	if cs.WorkingDir != "" {
		wd = cs.WorkingDir
	}
	if cs.User != "" {
		user = cs.User
	}
	return protocol.ProcessSpec{Args: args, Env: mergeEnv(env, cs.Env), Cwd: wd, User: user,
		Terminal: cs.Tty, Stdin: cs.OpenStdin}, nil
}

// mergeEnv returns base with over's variables replacing or added.
func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// List implements api.Pods.
func (x Pods) List(ctx context.Context, all bool) ([]types.Pod, error) {
	d := x.d
	d.mu.Lock()
	var out []types.Pod
	for _, p := range d.pods {
		s := p.snapshot()
		if all || s.State == stateRunning {
			out = append(out, s)
		}
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Get implements api.Pods.
func (x Pods) Get(ctx context.Context, ref string) (types.Pod, error) {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return types.Pod{}, err
	}
	return p.snapshot(), nil
}

// Wait implements api.Pods.
func (x Pods) Wait(ctx context.Context, ref string, ready func()) (types.WaitResponse, error) {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return types.WaitResponse{}, err
	}
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
	ready()
	select {
	case <-ch:
	case <-ctx.Done():
		return types.WaitResponse{}, ctx.Err()
	}
	s := p.snapshot()
	return types.WaitResponse{ExitCode: s.ExitCode, Reason: s.Reason}, nil
}

// Kill implements api.Pods.
func (x Pods) Kill(ctx context.Context, ref string, sig int) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if sig <= 0 || sig > 64 {
		return errdefs.InvalidArgument("invalid signal %d", sig)
	}
	p.mu.Lock()
	running := p.rec.State == stateRunning && p.vm != nil
	var procs []*guest.Process // read under the lock: restarts replace them
	for _, c := range p.ctrs {
		if c.proc != nil {
			procs = append(procs, c.proc)
		}
	}
	p.mu.Unlock()
	if !running {
		return errdefs.Conflict("pod %s is not running", ref)
	}
	var errs []error
	for _, proc := range procs {
		if err := proc.Signal(ctx, sig); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop implements api.Pods.
func (x Pods) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.mu.Lock()
	v, exited, names, specs := p.vm, p.exited, containerNames(p.rec.Containers), p.rec.Spec.Containers
	starting := p.starting
	if v != nil || starting {
		p.stop() // no container restarts any more
	}
	p.mu.Unlock()
	if v == nil && !starting {
		return nil // not running: stopping is a no-op, as in docker
	}
	if v == nil { // init containers running (they stop), or the VM booting
		select {
		case <-exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for i, name := range names {
		err := v.Guest.StopContainer(ctx, protocol.StopRequest{Container: name, Signal: stopSignal(specs[i]), GraceMillis: timeout.Milliseconds()})
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			d.log.Warn("stopping container", "pod", ref, "container", name, "err", err)
		}
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func containerNames(cs []types.Container) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

// Remove implements api.Pods.
// forceGrace bounds how long rm -f waits for a running pod's guest to sync
// its disks and power off before the VM is killed.
const forceGrace = 5 * time.Second

func (x Pods) Remove(ctx context.Context, ref string, force bool) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.mu.Lock()
	running := p.vm != nil || p.starting
	v, exited, gone := p.vm, p.exited, p.vmGone
	if running && !force {
		p.mu.Unlock()
		return errdefs.Conflict("pod %s is running: stop it first or use force", ref)
	}
	p.removing = true // checked with running, under one lock: no Start slips in
	if running {
		p.stop() // no restarts; init containers stop
	}
	p.mu.Unlock()
	if running {
		if v != nil {
			// Like docker's rm -f, processes get SIGKILL; but the guest
			// syncs and unmounts first, so volume writes survive. A guest
			// that does not answer within forceGrace is killed.
			sctx, cancel := context.WithTimeout(ctx, forceGrace)
			v.Shutdown(sctx)
			cancel()
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
		gone = p.vmGone
		p.mu.Unlock()
	}
	select { // the VM holds the pod's scratch disk until it is gone
	case <-gone:
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.removePod(p)
}

func (d *Daemon) removePod(p *pod) error {
	d.releaseNetwork(p) // its VM is gone: normally released already
	if err := d.forget(p); err != nil {
		return err
	}
	p.mu.Lock()
	p.removing = true
	p.closeRun() // waiters on a pod that never ran are released
	dir, id := p.rec.Dir, p.rec.ID
	p.mu.Unlock()
	d.vols.release(id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing pod %s: %w", p.snapshot().ID[:12], err)
	}
	return nil
}

// forget removes a pod from the daemon's view and state; its files stay
// until removePod.
func (d *Daemon) forget(p *pod) error {
	s := p.snapshot()
	d.mu.Lock()
	delete(d.pods, s.ID)
	d.images.Release(s.ID) // under d.mu, as syncImageHolds: it does not come back
	for id, e := range d.execs {
		if e.pod == s.ID {
			delete(d.execs, id)
		}
	}
	d.mu.Unlock()
	return d.db.Delete(podsBucket, s.ID)
}

// save persists the pod's record, unless the pod was removed meanwhile
// (a late save must not bring it back).
func (d *Daemon) save(p *pod) {
	p.mu.Lock()
	rec := p.rec.clone()
	p.mu.Unlock()
	d.mu.Lock()
	_, known := d.pods[rec.ID]
	d.mu.Unlock()
	if !known {
		return
	}
	if err := d.db.Put(podsBucket, rec.ID, rec); err != nil {
		d.log.Error("saving pod state", "pod", rec.ID, "err", err)
	}
}
