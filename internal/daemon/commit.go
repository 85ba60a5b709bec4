package daemon

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/tarcheck"
)

// Commit implements api.Files: a running container's writable layer (from
// the guest, checked entry by entry, whiteouts in OCI form) on top of its
// image, with the config changes, as a new image named repo, loaded
// through the store's Load. The container is not paused.
func (f Files) Commit(ctx context.Context, ref, container string, o types.CommitOptions) ([]types.Image, error) {
	if o.Repo == "" {
		return nil, errdefs.InvalidArgument("commit needs a REPO[:TAG] to name the image")
	}
	tag, err := name.NewTag(o.Repo)
	if err != nil {
		return nil, errdefs.InvalidArgument("image name %q: %v", o.Repo, err)
	}
	p, ctr, err := f.d.lookupContainer(ref, container)
	if err != nil {
		return nil, err
	}
	cs, _, _ := p.sb.Container(ctr)
	g, err := p.sb.FilesGuest(ctr)
	if err != nil {
		return nil, err
	}
	ims := f.d.Images()
	var layerFile string
	err = g.ArchiveGet(ctx, protocol.ArchiveRequest{Container: ctr, Path: "/", Layer: true}, func(_ protocol.PathStat, r io.Reader) error {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarcheck.Copy(pw, r)) }()
		file, serr := ims.spoolTemp(pr, maxImport, "commit")
		pr.CloseWithError(io.ErrClosedPipe)
		layerFile = file
		return serr
	})
	if layerFile != "" {
		defer os.Remove(layerFile)
	}
	if err != nil {
		return nil, err
	}
	// The base image, as the store saves it.
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(f.d.imageStore.Save(ctx, pw, []string{cs.Image}, image.FormatDocker)) }()
	baseFile, err := ims.spoolTemp(pr, maxImport, "base")
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return nil, err
	}
	defer os.Remove(baseFile)
	base, err := tarball.ImageFromPath(baseFile, nil)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(layerFile)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: now}, CreatedBy: "hyperctl commit", Comment: o.Comment, Author: o.Author}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created, cf.Author = v1.Time{Time: now}, o.Author
	for _, c := range o.Changes {
		if err := applyChange(&cf.Config, c); err != nil {
			return nil, err
		}
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return ims.loadBuilt(ctx, tag, img)
}
