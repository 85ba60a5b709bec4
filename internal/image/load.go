package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image/fstree"
)

// Media types written by Save and for manifests made up for classic
// docker-save archives (the ones Docker itself uses since 25.0).
const (
	mtOCIManifest = string(types.OCIManifestSchema1)
	mtOCIIndex    = string(types.OCIImageIndex)
	mtOCIConfig   = string(types.OCIConfigJSON)
	mtOCILayer    = string(types.OCIUncompressedLayer)
	mtOCILayerGz  = string(types.OCILayer)
	mtOCILayerZst = string(types.OCILayerZStd)

	annotationName    = "io.containerd.image.name"
	annotationRefName = "org.opencontainers.image.ref.name"
)

// candidate is one image found in an archive.
type candidate struct {
	manifest     []byte
	manifestDesc descriptor
	configBytes  []byte
	config       *v1.ConfigFile
	layers       []descriptor
	layerPaths   []string // archive paths of the layers
	names        []string // canonical
}

// Load loads every image of a `docker save` archive (classic, or Docker
// 25+ with an embedded OCI layout) or an OCI image layout tar, optionally
// gzip-compressed. Every blob is verified against its digest and each
// layer against the config's diff IDs while the image's root file system
// is built. Names are registered, all at once, only after every blob and
// root file system is in place; on error nothing of this load remains
// visible and the files it wrote are removed (blobs that other images
// share stay). Malformed or hostile archives give errdefs.ErrInvalidArgument.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]Image, error) {
	a, err := spool(ctx, r, s.tmp, s.opts.MaxArchiveSize)
	if err != nil {
		return nil, err
	}
	defer a.close()
	cands, err := parseArchive(a)
	if err != nil {
		return nil, err
	}

	var created []string // blobs this load created
	var pinned []string  // blob digests and rootfs pins held
	var builtIDs []string
	// Whatever this load created and no registered image uses goes:
	// everything on failure, duplicates (same config, other manifest) on
	// success.
	defer func() { s.settle(pinned, builtIDs, created) }()

	recs := make([]*record, 0, len(cands))
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		put := func(r io.Reader, size int64, want string) error {
			d, made, err := s.blobs.put(ctx, r, size, want)
			if err != nil {
				return err
			}
			pinned = append(pinned, d)
			if made {
				created = append(created, d)
			}
			return nil
		}
		if err := put(bytes.NewReader(c.manifest), int64(len(c.manifest)), c.manifestDesc.Digest); err != nil {
			return nil, err
		}
		if err := put(bytes.NewReader(c.configBytes), int64(len(c.configBytes)), idOf(c.configBytes)); err != nil {
			return nil, err
		}
		for i, l := range c.layers {
			lr, err := a.open(c.layerPaths[i])
			if err != nil {
				return nil, err
			}
			if lr.Size() != l.Size {
				return nil, errdefs.InvalidArgument("layer %s: archive has %d bytes, manifest says %d", l.Digest, lr.Size(), l.Size)
			}
			if err := put(lr, l.Size, l.Digest); err != nil {
				return nil, err
			}
		}
		rec := &record{
			ID:       idOf(c.configBytes),
			Manifest: c.manifestDesc,
			Config:   descriptor{MediaType: configMediaType(c.manifest), Digest: idOf(c.configBytes), Size: int64(len(c.configBytes))},
			Layers:   c.layers,
			Created:  c.config.Created.Time,
			Loaded:   time.Now().UTC(),
			OS:       c.config.OS,
			Arch:     c.config.Architecture,
			Run:      c.config.Config,
			Names:    c.names,
		}
		for _, d := range c.config.RootFS.DiffIDs {
			rec.DiffIDs = append(rec.DiffIDs, d.String())
		}
		s.pins.pin(rootfsPin(rec.ID))
		pinned = append(pinned, rootfsPin(rec.ID))
		builtIDs = append(builtIDs, rec.ID)
		size, err := s.rootfs.ensure(ctx, rec)
		if err != nil {
			return nil, err
		}
		rec.Size = size
		recs = append(recs, rec)
	}

	return s.catalog.register(recs)
}

func idOf(config []byte) string { return digestOf(config) }

func configMediaType(manifest []byte) string {
	var m struct {
		Config struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	json.Unmarshal(manifest, &m)
	if m.Config.MediaType == "" {
		return mtOCIConfig
	}
	return m.Config.MediaType
}

// parseArchive finds the images of an archive: through index.json when
// there is one (OCI layout, and Docker 25+ archives), else through the
// classic manifest.json.
func parseArchive(a *archive) ([]*candidate, error) {
	var cands []*candidate
	var err error
	switch {
	case a.has("index.json"):
		cands, err = parseLayout(a)
	case a.has("manifest.json"):
		cands, err = parseClassic(a)
	default:
		return nil, errdefs.InvalidArgument("archive is neither a docker-save archive (no manifest.json) nor an OCI image layout (no index.json)")
	}
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, errdefs.InvalidArgument("archive holds no image for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	// The same image listed twice (one descriptor per name) loads once.
	byManifest := map[string]*candidate{}
	var out []*candidate
	for _, c := range cands {
		if prev, ok := byManifest[c.manifestDesc.Digest]; ok {
			prev.names = union(prev.names, c.names)
			continue
		}
		byManifest[c.manifestDesc.Digest] = c
		out = append(out, c)
	}
	return out, nil
}

func union(a, b []string) []string {
	for _, x := range b {
		if !contains(a, x) {
			a = append(a, x)
		}
	}
	sort.Strings(a)
	return a
}

func blobName(dgst string) (string, error) {
	h, ok := strings.CutPrefix(dgst, "sha256:")
	if !ok || len(h) != 64 || !isHex(h) {
		return "", errdefs.InvalidArgument("unsupported or malformed digest %q", dgst)
	}
	return "blobs/sha256/" + h, nil
}

// readVerified reads a JSON blob of a layout and checks digest and size.
func readVerified(a *archive, d v1.Descriptor) ([]byte, error) {
	p, err := blobName(d.Digest.String())
	if err != nil {
		return nil, err
	}
	b, err := a.readSmall(p)
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != d.Digest.String() {
		return nil, errdefs.InvalidArgument("blob digest mismatch: %s hashes to %s", d.Digest, got)
	}
	if int64(len(b)) != d.Size {
		return nil, errdefs.InvalidArgument("blob %s: size %d, descriptor says %d", d.Digest, len(b), d.Size)
	}
	return b, nil
}

func parseLayout(a *archive) ([]*candidate, error) {
	ib, err := a.readSmall("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(ib))
	if err != nil {
		return nil, errdefs.InvalidArgument("index.json: %w", err)
	}
	// Docker 25+ archives also carry manifest.json with RepoTags.
	tagsByConfig := map[string][]string{}
	if a.has("manifest.json") {
		if ds, err := readClassicManifest(a); err == nil {
			for _, d := range ds {
				if h, ok := strings.CutPrefix(d.Config, "blobs/sha256/"); ok {
					for _, t := range d.RepoTags {
						if n, err := NormalizeName(t); err == nil {
							tagsByConfig["sha256:"+h] = append(tagsByConfig["sha256:"+h], n)
						}
					}
				}
			}
		}
	}
	var out []*candidate
	for _, d := range idx.Manifests {
		c, err := resolveDescriptor(a, d, 0)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		if n := nameFromAnnotations(d.Annotations); n != "" {
			c.names = union(c.names, []string{n})
		}
		c.names = union(c.names, tagsByConfig[idOf(c.configBytes)])
		out = append(out, c)
	}
	return out, nil
}

// nameFromAnnotations takes the image name of an index descriptor:
// containerd's full name, or the OCI ref name when it is a full reference
// (a bare tag like "latest" names no repository and is ignored).
func nameFromAnnotations(ann map[string]string) string {
	if n, err := NormalizeName(ann[annotationName]); err == nil && ann[annotationName] != "" {
		return n
	}
	ref := ann[annotationRefName]
	if strings.ContainsAny(ref, "/:@") {
		if n, err := NormalizeName(ref); err == nil {
			return n
		}
	}
	return ""
}

func isManifest(mt types.MediaType) bool {
	return mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2
}

func isIndex(mt types.MediaType) bool {
	return mt == types.OCIImageIndex || mt == types.DockerManifestList
}

// resolveDescriptor follows an index entry down to an image manifest for
// this platform; nil when the entry is something else (attestations,
// artifacts, other platforms).
func resolveDescriptor(a *archive, d v1.Descriptor, depth int) (*candidate, error) {
	switch {
	case isManifest(d.MediaType):
		b, err := readVerified(a, d)
		if err != nil {
			return nil, err
		}
		return manifestCandidate(a, b, descriptor{MediaType: string(d.MediaType), Digest: d.Digest.String(), Size: d.Size})
	case isIndex(d.MediaType):
		if depth > 3 {
			return nil, errdefs.InvalidArgument("image indexes nested too deep")
		}
		b, err := readVerified(a, d)
		if err != nil {
			return nil, err
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return nil, errdefs.InvalidArgument("index %s: %w", d.Digest, err)
		}
		want := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
		for _, m := range idx.Manifests {
			if m.Platform != nil && !m.Platform.Satisfies(want) {
				continue
			}
			if m.Platform == nil && len(idx.Manifests) > 1 && isManifest(m.MediaType) {
				continue // attestation manifests and the like carry no platform
			}
			c, err := resolveDescriptor(a, m, depth+1)
			if err != nil || c != nil {
				return c, err
			}
		}
		return nil, nil
	}
	return nil, nil
}

var layerMediaTypes = map[types.MediaType]bool{
	types.OCIUncompressedLayer:           true,
	types.OCILayer:                       true,
	types.OCILayerZStd:                   true,
	types.OCIUncompressedRestrictedLayer: true,
	types.OCIRestrictedLayer:             true,
	types.DockerUncompressedLayer:        true,
	types.DockerLayer:                    true,
	types.MediaType("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"): true,
}

func manifestCandidate(a *archive, mb []byte, md descriptor) (*candidate, error) {
	m, err := v1.ParseManifest(bytes.NewReader(mb))
	if err != nil {
		return nil, errdefs.InvalidArgument("manifest %s: %w", md.Digest, err)
	}
	if m.Config.MediaType != types.OCIConfigJSON && m.Config.MediaType != types.DockerConfigJSON {
		return nil, nil // not a container image (an artifact)
	}
	cb, err := readVerified(a, m.Config)
	if err != nil {
		return nil, err
	}
	c := &candidate{manifest: mb, manifestDesc: md, configBytes: cb}
	for _, l := range m.Layers {
		if !layerMediaTypes[l.MediaType] {
			return nil, errdefs.InvalidArgument("manifest %s: unsupported layer media type %q", md.Digest, l.MediaType)
		}
		p, err := blobName(l.Digest.String())
		if err != nil {
			return nil, err
		}
		if !a.has(p) {
			return nil, errdefs.InvalidArgument("manifest %s: layer %s is missing from the archive", md.Digest, l.Digest)
		}
		if l.Size < 0 {
			return nil, errdefs.InvalidArgument("manifest %s: negative layer size", md.Digest)
		}
		c.layers = append(c.layers, descriptor{MediaType: string(l.MediaType), Digest: l.Digest.String(), Size: l.Size})
		c.layerPaths = append(c.layerPaths, p)
	}
	if err := c.parseConfig(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *candidate) parseConfig() error {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(c.configBytes))
	if err != nil {
		return errdefs.InvalidArgument("config %s: %w", idOf(c.configBytes), err)
	}
	if len(cfg.RootFS.DiffIDs) != len(c.layers) {
		return errdefs.InvalidArgument("config %s lists %d layers, manifest %d", idOf(c.configBytes), len(cfg.RootFS.DiffIDs), len(c.layers))
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if _, err := blobName(d.String()); err != nil {
			return err
		}
	}
	if cfg.OS != "" && cfg.OS != runtime.GOOS {
		return errdefs.InvalidArgument("image is for %s, not %s", cfg.OS, runtime.GOOS)
	}
	c.config = cfg
	return nil
}

func readClassicManifest(a *archive) (tarball.Manifest, error) {
	b, err := a.readSmall("manifest.json")
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errdefs.InvalidArgument("manifest.json: %w", err)
	}
	return m, nil
}

// parseClassic reads a docker-save archive without an OCI index. Such
// archives carry no manifest; one is made up (OCI media types, layers as
// stored in the archive), deterministically, so that loading the same
// archive twice gives the same manifest digest.
func parseClassic(a *archive) ([]*candidate, error) {
	m, err := readClassicManifest(a)
	if err != nil {
		return nil, err
	}
	var out []*candidate
	for _, d := range m {
		cpath, err := fstreeClean(d.Config)
		if err != nil {
			return nil, err
		}
		cb, err := a.readSmall(cpath)
		if err != nil {
			return nil, err
		}
		id := idOf(cb)
		// The config's file name is its digest ("<hex>.json" or
		// "blobs/sha256/<hex>"): check it.
		if h := strings.TrimSuffix(strings.TrimPrefix(cpath, "blobs/sha256/"), ".json"); len(h) == 64 && isHex(h) && "sha256:"+h != id {
			return nil, errdefs.InvalidArgument("config %s: digest mismatch, content hashes to %s", cpath, id)
		}
		c := &candidate{configBytes: cb}
		mf := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(cb)), Digest: mustHash(id)}}
		for _, lp := range d.Layers {
			lpath, err := fstreeClean(lp)
			if err != nil {
				return nil, err
			}
			lr, err := a.open(lpath)
			if err != nil {
				return nil, err
			}
			dgst, mt, err := hashLayer(lr)
			if err != nil {
				return nil, err
			}
			if h, ok := strings.CutPrefix(lpath, "blobs/sha256/"); ok && "sha256:"+h != dgst {
				return nil, errdefs.InvalidArgument("layer %s: digest mismatch, content hashes to %s", lpath, dgst)
			}
			c.layers = append(c.layers, descriptor{MediaType: mt, Digest: dgst, Size: lr.Size()})
			c.layerPaths = append(c.layerPaths, lpath)
			mf.Layers = append(mf.Layers, v1.Descriptor{MediaType: types.MediaType(mt), Size: lr.Size(), Digest: mustHash(dgst)})
		}
		if err := c.parseConfig(); err != nil {
			return nil, err
		}
		mb, err := json.Marshal(mf)
		if err != nil {
			return nil, err
		}
		c.manifest = mb
		c.manifestDesc = descriptor{MediaType: mtOCIManifest, Digest: digestOf(mb), Size: int64(len(mb))}
		for _, t := range d.RepoTags {
			n, err := NormalizeName(t)
			if err != nil {
				return nil, err
			}
			c.names = union(c.names, []string{n})
		}
		out = append(out, c)
	}
	return out, nil
}

func fstreeClean(p string) (string, error) {
	c, err := cleanArchivePath(p)
	if err != nil {
		return "", errdefs.InvalidArgument("manifest.json: path %q: %w", p, err)
	}
	return c, nil
}

func mustHash(d string) v1.Hash {
	h, err := v1.NewHash(d)
	if err != nil {
		panic(err)
	}
	return h
}

// hashLayer returns the digest of a layer blob and its media type, from
// its first bytes (gzip, zstd or a plain tar).
func hashLayer(r *io.SectionReader) (string, string, error) {
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	mt := mtOCILayer
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		mt = mtOCILayerGz
	case n >= 4 && bytes.Equal(magic[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		mt = mtOCILayerZst
	}
	d, err := digestReader(io.NewSectionReader(r, 0, r.Size()))
	if err != nil {
		return "", "", fmt.Errorf("archive: read layer: %w", err)
	}
	return d, mt, nil
}

func cleanArchivePath(p string) (string, error) { return fstree.CleanName(p) }
