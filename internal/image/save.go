package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Format is an archive format for Save.
type Format int

const (
	// FormatDocker is a `docker save` archive as Docker 25+ writes it: an
	// OCI image layout (oci-layout, index.json, blobs/sha256/) plus the
	// classic manifest.json, loadable by old and new Docker and by Load.
	FormatDocker Format = iota
	// FormatOCI is a plain OCI image layout tar.
	FormatOCI
)

// saved is one image of a Save with the names it is saved under.
type saved struct {
	rec   *record
	names []string // canonical
}

// Save writes the images refs resolve to as one archive. An image named
// by a tag is saved under that name; by ID, without a name. Blobs are
// written as stored, so loading the archive again gives the same image ID
// and manifest digest.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string, format Format) error {
	if format != FormatDocker && format != FormatOCI {
		return errdefs.InvalidArgument("unknown archive format %d", format)
	}
	if len(refs) == 0 {
		return errdefs.InvalidArgument("no image to save")
	}
	var list []*saved
	byID := map[string]*saved{}
	for _, ref := range refs {
		r, kind, canon, err := s.catalog.lookup(ref)
		if err != nil {
			return err
		}
		sv := byID[r.ID]
		if sv == nil {
			sv = &saved{rec: r}
			byID[r.ID] = sv
			list = append(list, sv)
		}
		if kind == byName {
			sv.names = union(sv.names, []string{canon})
		}
	}
	// Hold the blobs while writing.
	var keys []string
	for _, sv := range list {
		keys = append(keys, sv.rec.blobs()...)
	}
	s.pins.pin(keys...)
	defer s.pins.unpin(keys...)

	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	addDir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
	}
	addBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := addDir("blobs/"); err != nil {
		return err
	}
	if err := addDir("blobs/sha256/"); err != nil {
		return err
	}
	written := map[string]bool{}
	for _, sv := range list {
		descs := append([]descriptor{sv.rec.Manifest, sv.rec.Config}, sv.rec.Layers...)
		for _, d := range descs {
			if written[d.Digest] {
				continue
			}
			written[d.Digest] = true
			if err := s.blobs.copyTo(ctx, tw, d, epoch); err != nil {
				return err
			}
		}
	}

	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var classic tarball.Manifest
	for _, sv := range list {
		md := v1.Descriptor{MediaType: types.MediaType(sv.rec.Manifest.MediaType), Size: sv.rec.Manifest.Size, Digest: mustHash(sv.rec.Manifest.Digest)}
		if len(sv.names) == 0 {
			idx.Manifests = append(idx.Manifests, md)
		}
		var tags []string
		for _, n := range sv.names {
			d := md
			d.Annotations = map[string]string{annotationName: n}
			if i := strings.LastIndexByte(n, ':'); i > strings.LastIndexByte(n, '/') {
				d.Annotations[annotationRefName] = n[i+1:]
			}
			idx.Manifests = append(idx.Manifests, d)
			tags = append(tags, FamiliarName(n))
		}
		sort.Strings(tags)
		cd := strings.TrimPrefix(sv.rec.Config.Digest, "sha256:")
		entry := tarball.Descriptor{Config: "blobs/sha256/" + cd, RepoTags: tags}
		for _, l := range sv.rec.Layers {
			entry.Layers = append(entry.Layers, "blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:"))
		}
		classic = append(classic, entry)
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := addBytes("index.json", ib); err != nil {
		return err
	}
	if format == FormatDocker {
		mb, err := json.Marshal(classic)
		if err != nil {
			return err
		}
		if err := addBytes("manifest.json", mb); err != nil {
			return err
		}
	}
	if err := addBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}
