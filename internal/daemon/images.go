package daemon

// The images pods use are held in the image store (image.Store.Hold): the
// store knows its users as data and never calls back into the daemon, so
// that no daemon lock is ever taken inside an image store transaction.
// A pod holds its images from before it is recorded (Pods.Create; an
// added container's image from before it is added) until it is forgotten;
// syncImageHolds brings the holds up to date with the pods' records and
// states (running or not) before the store decides with them (Remove,
// Prune, DiskUsage) and before a root file system goes to a VM.
//
// Lock order: d.mu → p.mu → the sandbox → the image store's locks (image/holds.go) →
// bbolt. The image store takes none of the daemon's locks.

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
)

// imageResolver is what the pods need of the image store: resolving an
// image reference, an image's root file system, and holding the images
// they use.
type imageResolver interface {
	Get(ctx context.Context, ref string) (image.Image, error)
	Rootfs(ctx context.Context, ref string) (string, error)
	Hold(holder string, u image.User, ids ...string) error
	SetHolds(holder string, u image.User, ids []string)
	Release(holder string)
}

var _ imageResolver = (*image.Store)(nil)

// openImages opens the image store under the daemon's root, in its
// state database.
func (d *Daemon) openImages() error {
	s, err := image.Open(filepath.Join(d.cfg.Root, "images"), d.db.Bolt(), image.Options{})
	if err != nil {
		return fmt.Errorf("opening image store: %w", err)
	}
	d.images, d.imageStore = s, s
	return nil
}

// imageUser is p as a user of images (running while its run is on or
// starting), and the images its containers use. Called with p.mu held.
func (p *pod) imageUser() (image.User, []string) {
	return image.User{Name: p.rec.Name, Running: p.sb.Running()}, p.sb.Images()
}

// syncImageHolds makes the holds of the pods using image id (every pod,
// for "") match their records and states. Under d.mu, as forget releases
// a pod's holds: a removed pod's holds do not come back; under each p.mu,
// as the pod's state changes: a sync never writes an older state than an
// earlier one.
func (d *Daemon) syncImageHolds(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for pid, p := range d.pods {
		p.mu.Lock()
		if u, ids := p.imageUser(); id == "" || slices.Contains(ids, id) {
			d.images.SetHolds(pid, u, ids)
		}
		p.mu.Unlock()
	}
}

// Images adapts the image store to api.Images (and api.Puller,
// api.ImageManager).
type Images struct{ d *Daemon }

var _ api.ImageManager = Images{}

// Images returns the daemon's api.Images.
func (d *Daemon) Images() Images { return Images{d} }

func toAPI(im image.Image) types.Image {
	names := make([]string, 0, len(im.Names))
	for _, n := range im.Names {
		names = append(names, image.FamiliarName(n))
	}
	return types.Image{ID: im.ID, Names: names, Size: im.Size, Created: im.Created}
}

func toAPIList(ims []image.Image) []types.Image {
	out := make([]types.Image, 0, len(ims))
	for _, im := range ims {
		out = append(out, toAPI(im))
	}
	return out
}

// Load implements api.Images.
func (i Images) Load(ctx context.Context, r io.Reader) ([]types.Image, error) {
	ims, err := i.d.imageStore.Load(ctx, r)
	if err != nil {
		return nil, err
	}
	i.d.publishImages(types.ActionLoad, toAPIList(ims)...)
	return toAPIList(ims), nil
}

// Save implements api.Images.
func (i Images) Save(ctx context.Context, w io.Writer, refs []string, format string) error {
	f := image.FormatDocker
	switch format {
	case "", "docker":
	case "oci":
		f = image.FormatOCI
	default:
		return errdefs.InvalidArgument("unknown archive format %q (want docker or oci)", format)
	}
	return i.d.imageStore.Save(ctx, w, refs, f)
}

// List implements api.Images.
func (i Images) List(ctx context.Context) ([]types.Image, error) {
	ims, err := i.d.imageStore.List(ctx)
	if err != nil {
		return nil, err
	}
	return toAPIList(ims), nil
}

// Remove implements api.Images.
func (i Images) Remove(ctx context.Context, ref string, force bool) error {
	_, err := i.RemoveImage(ctx, ref, force)
	return err
}

// Pull implements api.Puller: it pulls ref from its registry (or a
// configured mirror), with credentials from the docker config of the user
// hyperd runs as (root: /root/.docker/config.json or $DOCKER_CONFIG).
func (i Images) Pull(ctx context.Context, ref, platform string, progress func(types.PullEvent)) (types.Image, error) {
	im, err := i.d.imageStore.Pull(ctx, ref, image.PullOptions{
		Platform: platform,
		Registry: i.d.cfg.Registry,
		Progress: func(p image.PullProgress) {
			if progress != nil {
				progress(types.PullEvent{ID: p.ID, Status: p.Status, Current: p.Current, Total: p.Total})
			}
		},
	})
	if err != nil {
		return types.Image{}, err
	}
	i.d.publishImages(types.ActionPull, toAPI(im))
	return toAPI(im), nil
}

func toDelete(r image.RemoveResult) types.ImageDeleteResponse {
	out := types.ImageDeleteResponse{Untagged: []string{}, Deleted: r.Deleted, Reclaimed: r.Reclaimed}
	for _, n := range r.Untagged {
		out.Untagged = append(out.Untagged, image.FamiliarName(n))
	}
	return out
}

// RemoveImage implements api.ImageManager.
func (i Images) RemoveImage(ctx context.Context, ref string, force bool) (types.ImageDeleteResponse, error) {
	i.d.syncImageHolds("")
	res, err := i.d.imageStore.Remove(ctx, ref, force)
	if err != nil {
		return types.ImageDeleteResponse{}, err
	}
	i.d.publishRemoval(res)
	return toDelete(res), nil
}

// TagImage implements api.ImageManager.
func (i Images) TagImage(ctx context.Context, source, target string) error {
	if err := i.d.imageStore.Tag(ctx, source, target); err != nil {
		return err
	}
	i.d.Publish(types.EventImage, types.ActionTag, source, map[string]string{"name": target})
	return nil
}

// PruneImages implements api.ImageManager.
func (i Images) PruneImages(ctx context.Context, all bool) (types.ImagePruneResponse, error) {
	i.d.syncImageHolds("")
	res, err := i.d.imageStore.Prune(ctx, all)
	if err != nil {
		return types.ImagePruneResponse{}, err
	}
	out := types.ImagePruneResponse{Images: []types.ImageDeleteResponse{}, Reclaimed: res.Reclaimed}
	for _, r := range res.Images {
		out.Images = append(out.Images, toDelete(r))
		i.d.publishRemoval(r)
	}
	return out, nil
}

// DiskUsage implements api.ImageManager.
func (i Images) DiskUsage(ctx context.Context) (types.DiskUsage, error) {
	i.d.syncImageHolds("")
	du, err := i.d.imageStore.DiskUsage(ctx)
	if err != nil {
		return types.DiskUsage{}, err
	}
	conv := func(u image.Usage) types.DiskUsageEntry {
		return types.DiskUsageEntry{Count: u.Count, Active: u.Active, Size: u.Size, Reclaimable: u.Reclaimable}
	}
	return types.DiskUsage{Images: conv(du.Images), Rootfs: conv(du.Rootfs), Blobs: conv(du.Blobs)}, nil
}

// PushImage implements api.ImageManager: credentials and insecure
// registries as for Pull.
func (i Images) PushImage(ctx context.Context, ref string, progress func(types.PushEvent)) (types.PushEvent, error) {
	res, err := i.d.imageStore.Push(ctx, ref, image.PushOptions{
		Registry: i.d.cfg.Registry,
		Progress: func(p image.PushProgress) {
			if progress != nil {
				progress(types.PushEvent{Status: "pushing", Current: p.Current, Total: p.Total})
			}
		},
	})
	if err != nil {
		return types.PushEvent{}, err
	}
	i.d.Publish(types.EventImage, types.ActionPush, image.FamiliarName(res.Name), map[string]string{"name": image.FamiliarName(res.Name)})
	return types.PushEvent{Name: image.FamiliarName(res.Name), Digest: res.Digest, Size: res.Size}, nil
}
