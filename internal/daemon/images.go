package daemon

import (
	"context"
	"io"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
)

// Images adapts the image store to api.Images.
type Images struct{ d *Daemon }

// Images returns the api.Images of the daemon (its method names collide
// with the pods' List and Remove).
func (d *Daemon) Images() Images { return Images{d} }

func toAPI(im image.Image) types.Image {
	names := make([]string, 0, len(im.Names))
	for _, n := range im.Names {
		names = append(names, image.FamiliarName(n))
	}
	return types.Image{ID: im.ID, Names: names, Size: im.Size, Created: im.Created}
}

// Load implements api.Images.
func (i Images) Load(ctx context.Context, r io.Reader) ([]types.Image, error) {
	ims, err := i.d.images.Load(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]types.Image, 0, len(ims))
	for _, im := range ims {
		out = append(out, toAPI(im))
	}
	return out, nil
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
	return i.d.images.Save(ctx, w, refs, f)
}

// List implements api.Images.
func (i Images) List(ctx context.Context) ([]types.Image, error) {
	ims, err := i.d.images.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]types.Image, 0, len(ims))
	for _, im := range ims {
		out = append(out, toAPI(im))
	}
	return out, nil
}

// Remove implements api.Images.
func (i Images) Remove(ctx context.Context, ref string, force bool) error {
	_, err := i.d.images.Remove(ctx, ref, force)
	return err
}

// Pull implements api.Puller: it pulls ref from its registry (or a
// configured mirror), with credentials from the docker config of the user
// hyperd runs as (root: /root/.docker/config.json or $DOCKER_CONFIG).
func (i Images) Pull(ctx context.Context, ref, platform string, progress func(types.PullEvent)) (types.Image, error) {
	im, err := i.d.images.Pull(ctx, ref, image.PullOptions{
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
	return toAPI(im), nil
}
