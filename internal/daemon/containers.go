package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// Containers adapts the daemon to api.Containers: containers added to and
// removed from existing pods, running or not (ADR 0007). A pod that is not
// running only has its record changed; a running one also has the
// container created (and its image disk hot-added) or removed in its VM.
type Containers struct{ d *Daemon }

// Containers returns the daemon's api.Containers.
func (d *Daemon) Containers() Containers { return Containers{d} }

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
	return hypervisor.Disk{Path: path, Serial: imageSerial(id), ReadOnly: true, Hotplug: true}, nil
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
	ch := p.sb.BeginChange()
	defer ch.Done()
	p.mu.Lock()
	rec := p.rec
	p.mu.Unlock()
	podName := rec.Name
	if cs.Name == "" {
		cs.Name = freeName(podName, p.sb.HasName)
	}
	taken := p.sb.HasName(cs.Name)
	if err := checkAddedMounts(rec.Volumes, cs); err != nil {
		return types.CreateResponse{}, err
	}
	// The pod's spec with only this container: its volumes and files are
	// the pod's, its ports are not checked again (the pod holds them).
	check := rec.Spec
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
	// has its image (or the addition failed). Additions to a pod are
	// serialized (ch).
	p.mu.Lock()
	user, _ := p.imageUser()
	p.mu.Unlock()
	holder := rec.ID + "/adding"
	if err := d.images.Hold(holder, user, c.ImageID); err != nil {
		return types.CreateResponse{}, fmt.Errorf("container %s: %w", cs.Name, err)
	}
	defer func() {
		d.syncImageHolds(c.ImageID)
		d.images.Release(holder)
	}()
	if ids := p.sb.Images(); !slices.Contains(ids, c.ImageID) && len(ids)+1 > maxImagesPerPod {
		return types.CreateResponse{}, errdefs.InvalidArgument("pod %s would use more than %d distinct images", podName, maxImagesPerPod)
	}
	p.mu.Lock()
	p.meta[cs.Name] = ctrMeta{spec: cs, image: c.Image, imageID: c.ImageID, command: c.Command, proc: proc}
	p.mu.Unlock()
	rootfs := func(ctx context.Context) (hypervisor.Disk, error) { return d.imageDisk(ctx, c.ImageID) }
	if err := ch.AddContainer(ctx, sandboxContainer(rec, cs, c.ImageID, proc), rootfs); err != nil {
		p.mu.Lock()
		delete(p.meta, cs.Name)
		p.mu.Unlock()
		return types.CreateResponse{}, err
	}
	return types.CreateResponse{ID: cs.Name, Warnings: warnings}, nil
}

// freeName is the first of pod-1, pod-2... no container has.
func freeName(podName string, taken func(string) bool) string {
	for n := 1; ; n++ {
		if name := fmt.Sprintf("%s-%d", podName, n); !taken(name) {
			return name
		}
	}
}

// Remove implements api.Containers. A running container needs force: it
// is killed. The image disk goes with the last container of the pod using
// it. The pod's last container cannot be removed: the pod is removed then
// (a pod without containers would have nothing to run).
func (x Containers) Remove(ctx context.Context, ref, name string, force bool) error {
	if name == "" {
		return errdefs.InvalidArgument("empty container name")
	}
	p, err := x.d.lookup(ref)
	if err != nil {
		return err
	}
	ch := p.sb.BeginChange()
	defer ch.Done()
	if err := ch.RemoveContainer(ctx, name, force); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.meta, name)
	p.mu.Unlock()
	return nil
}
