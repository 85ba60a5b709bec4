package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
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
	if err := checkPodName(spec.Name); err != nil {
		return types.CreateResponse{}, err
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
	if err := d.publishAll(ctx, &rec.Spec); err != nil {
		return types.CreateResponse{}, err
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
	// The name is reserved under d.mu, the record written without it.
	d.mu.Lock()
	if err := d.nameFree(spec.Name); err != nil {
		d.mu.Unlock()
		os.RemoveAll(rec.Dir)
		d.images.Release(id)
		return types.CreateResponse{}, err
	}
	d.reserved[spec.Name] = true
	d.mu.Unlock()
	err = d.db.Create(podsBucket, id, stored(rec))
	d.mu.Lock()
	delete(d.reserved, spec.Name)
	var p *pod
	if err == nil {
		p = d.newPod(rec)
		d.pods[id] = p
	}
	d.mu.Unlock()
	if err != nil {
		os.RemoveAll(rec.Dir)
		d.images.Release(id)
		return types.CreateResponse{}, err
	}
	p.publish(types.ActionCreate, "", nil)
	return types.CreateResponse{ID: id, Warnings: warnings}, nil
}

// checkPodName refuses a name a pod may not have.
func checkPodName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.InvalidArgument("invalid pod name %q: use letters, digits, '_', '.', '-' (at most 63)", name)
	}
	return nil
}

// nameFree tells whether a pod may take name. Called with d.mu held.
func (d *Daemon) nameFree(name string) error {
	if d.reserved[name] {
		return errdefs.Conflict("the name %q is being used by a pod being created", name)
	}
	for _, p := range d.pods {
		if p.name() == name {
			return errdefs.Conflict("the name %q is already used by pod %s", name, p.rec.ID[:12])
		}
	}
	return nil
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
	sec, err := d.sec.Resolve(ctx, *cs, proc.User)
	if err != nil {
		return protocol.ProcessSpec{}, types.Container{}, fmt.Errorf("container %s: %w", cs.Name, err)
	}
	sec.Apply(&proc)
	imageDefaults(cs, img.Config.StopSignal, img.Config.Labels)
	healthDefaults(cs, imageHealthcheck(img.Config.Healthcheck))
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
	var out []types.Pod
	for _, p := range x.d.all() {
		s := p.snapshot()
		if all || s.State == stateRunning {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// all lists the registry's pods.
func (d *Daemon) all() []*pod {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := make([]*pod, 0, len(d.pods))
	for _, p := range d.pods {
		ps = append(ps, p)
	}
	return ps
}

// Get implements api.Pods.
func (x Pods) Get(ctx context.Context, ref string) (types.Pod, error) {
	p, err := x.d.lookup(ref)
	if err != nil {
		return types.Pod{}, err
	}
	return p.snapshot(), nil
}

// Wait implements api.Pods.
func (x Pods) Wait(ctx context.Context, ref string, ready func()) (types.WaitResponse, error) {
	p, err := x.d.lookup(ref)
	if err != nil {
		return types.WaitResponse{}, err
	}
	ch := p.sb.Exited()
	ready()
	select {
	case <-ch:
	case <-ctx.Done():
		return types.WaitResponse{}, ctx.Err()
	}
	s := p.snapshot()
	return types.WaitResponse{ExitCode: s.ExitCode, Reason: s.Reason}, nil
}

// Rename implements api.Pods: the pod takes name, which must be valid and
// free; the record is saved before it returns. The VM's /etc/hosts keeps
// the old name until the pod's next start.
func (x Pods) Rename(ctx context.Context, ref, name string) error {
	d := x.d
	if err := checkPodName(name); err != nil {
		return err
	}
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if p.name() == name {
		d.mu.Unlock()
		return nil
	}
	if err := d.nameFree(name); err != nil {
		d.mu.Unlock()
		return err
	}
	if _, ok := d.pods[p.rec.ID]; !ok {
		d.mu.Unlock()
		return errdefs.NotFound("no such pod: %s", ref)
	}
	p.mu.Lock()
	old := p.rec.Name
	p.rec.Name, p.rec.Spec.Name = name, name
	p.mu.Unlock()
	d.mu.Unlock()
	p.save()
	p.publish(types.ActionRename, "", map[string]string{"oldName": old})
	return nil
}

// Kill implements api.Pods.
func (x Pods) Kill(ctx context.Context, ref string, sig int) error {
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	if sig == 9 { // docker kill's: the user stopped the pod
		p.markUserStopped(true)
	}
	if p.sb.Running() && sig > 0 && sig <= 64 { // before the signal, as docker: its die may come at once
		p.publish(types.ActionKill, "", map[string]string{"signal": strconv.Itoa(sig)})
	}
	return p.sb.Kill(ctx, sig)
}

// Stop implements api.Pods.
func (x Pods) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	p.markUserStopped(true)
	if err := p.sb.Stop(ctx, stopGrace(p, timeout)); err != nil {
		return err
	}
	p.publish(types.ActionStop, "", nil)
	return nil
}

// Remove implements api.Pods.
func (x Pods) Remove(ctx context.Context, ref string, force bool) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if err := p.sb.Remove(ctx, force); err != nil {
		return err
	}
	if err := d.forget(p); err != nil {
		return err
	}
	p.publish(types.ActionDestroy, "", nil)
	return d.removeFiles(p)
}

// removeFiles removes what a pod whose VM is gone leaves on the host:
// its network and volume holds (normally released already) and its
// directory.
func (d *Daemon) removeFiles(p *pod) error {
	p.mu.Lock()
	dir, id := p.rec.Dir, p.rec.ID
	p.mu.Unlock()
	d.releaseNetwork(p)
	d.vols.release(id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing pod %s: %w", id[:12], err)
	}
	return nil
}

// forget removes a pod from the registry and the state database; its
// files stay until removeFiles. Forgetting a pod twice is no error.
func (d *Daemon) forget(p *pod) error {
	id := p.rec.ID // immutable
	d.mu.Lock()
	known := d.pods[id] == p
	delete(d.pods, id)
	d.images.Release(id) // under d.mu, as syncImageHolds: it does not come back
	for eid, e := range d.execs {
		if e.pod == id {
			delete(d.execs, eid)
		}
	}
	d.mu.Unlock()
	p.stopSaving()
	if !known {
		return nil
	}
	return d.db.Delete(podsBucket, id)
}
