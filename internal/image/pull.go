package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Pull progress statuses.
const (
	PullResolving   = "resolving"   // ID is the reference
	PullWaiting     = "waiting"     // another pull is downloading this blob
	PullExists      = "exists"      // the blob is already in the store
	PullDownloading = "downloading" // Current of Total bytes so far
	PullVerifying   = "verifying"
	PullExtracting  = "extracting" // merging into the root file system
	PullDone        = "done"
)

// PullProgress is one progress report of Pull, about one layer (ID is the
// short hex of its digest) unless said otherwise.
type PullProgress struct {
	ID      string
	Status  string
	Current int64
	Total   int64
}

// Registry configures how registries are reached.
type Registry struct {
	// Insecure registries ("host:port") are reached over plain HTTP (after
	// trying HTTPS). Loopback and private addresses always are.
	Insecure []string
	// Mirrors maps a registry ("docker.io") to mirror endpoints
	// ("http://10.0.0.1:5000", "mirror.example:443"), tried in order
	// before the registry itself.
	Mirrors map[string][]string
}

// PullOptions tune Pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; empty means the host's
	// (linux/GOARCH).
	Platform string
	Registry Registry
	// Keychain gives credentials; nil means authn.DefaultKeychain, which
	// reads $DOCKER_CONFIG/config.json or ~/.docker/config.json (hyperd
	// runs as root: root's) and honours credential helpers.
	Keychain authn.Keychain
	// Transport is the HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Progress, if set, receives progress reports (from several
	// goroutines never at once).
	Progress func(PullProgress)
}

type layerHookKey struct{}

// fetch is a blob download in progress, shared by concurrent pulls.
type fetch struct{ done chan struct{} }

var (
	fetchMu sync.Mutex
	fetches = map[*Store]map[string]*fetch{}
)

// ParsePlatform parses "os/arch[/variant]"; "" is the host's platform.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, errdefs.InvalidArgument("invalid platform %q (want os/arch[/variant])", s)
	}
	return *p, nil
}

// Pull fetches ref ("busybox", "host:5000/repo:tag", "repo@sha256:...")
// from its registry (or a mirror) and stores it like Load: every blob is
// verified against its digest as it is written, each layer against the
// config's diff ID while the root file system is built, and the name is
// registered only once everything is in place. On error or cancellation
// nothing of this pull stays visible and the files it wrote go. For an
// index (manifest list), the manifest for opts.Platform is pulled.
// Concurrent pulls download each blob once.
//
// Errors: ErrInvalidArgument (bad reference or platform, malformed or
// unsupported manifests, digest mismatches), ErrNotFound (no such
// repository, tag or platform), ErrUnavailable (registry unreachable or
// failing), and plain errors for authentication failures.
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	pr, err := parseName(ref)
	if err != nil {
		return Image{}, err
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return Image{}, err
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(PullProgress) {}
	} else {
		// mu is held across the caller's function on purpose (it may
		// write to a client): reports never overlap; nothing else waits
		// on it.
		var mu sync.Mutex
		f := progress
		progress = func(p PullProgress) { mu.Lock(); defer mu.Unlock(); f(p) }
	}
	progress(PullProgress{ID: ref, Status: PullResolving})

	var last error
	for _, src := range sources(pr, opts.Registry) {
		img, err := s.pullFrom(ctx, pr, src, plat, opts, progress)
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return Image{}, ctx.Err()
		}
		last = err
	}
	return Image{}, last
}

type source struct {
	ref    name.Reference
	mirror bool
}

// sources are the references to try for r: mirrors first, then r's own
// registry.
func sources(r name.Reference, reg Registry) []source {
	host := registry(r)
	var out []source
	for _, m := range reg.Mirrors[host] {
		h, insecure := m, false
		if u, err := url.Parse(m); err == nil && u.Host != "" {
			h, insecure = u.Host, u.Scheme == "http"
		}
		if mr, err := rehost(r, h, insecure); err == nil {
			out = append(out, source{ref: mr, mirror: true})
		}
	}
	own := r
	for _, i := range reg.Insecure {
		if i == host || i == r.Context().RegistryStr() {
			if ir, err := rehost(r, r.Context().RegistryStr(), true); err == nil {
				own = ir
			}
		}
	}
	return append(out, source{ref: own})
}

func rehost(r name.Reference, host string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	s := host + "/" + r.Context().RepositoryStr()
	switch v := r.(type) {
	case name.Digest:
		return name.NewDigest(s+"@"+v.DigestStr(), opts...)
	case name.Tag:
		return name.NewTag(s+":"+v.TagStr(), opts...)
	}
	return nil, fmt.Errorf("unsupported reference %s", r)
}

func (s *Store) pullFrom(ctx context.Context, orig name.Reference, src source, plat v1.Platform, opts PullOptions, progress func(PullProgress)) (_ Image, err error) {
	ref := src.ref
	keys := opts.Keychain
	if keys == nil {
		keys = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keys), remote.WithPlatform(plat),
		remote.WithUserAgent("hyperd")}
	if opts.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opts.Transport))
	}
	where := ref.Context().RegistryStr()
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		return Image{}, registryError(ctx, orig, where, err)
	}
	var img v1.Image
	switch {
	case desc.MediaType.IsSchema1():
		return Image{}, errdefs.InvalidArgument("%s: docker schema 1 manifests are not supported", orig)
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return Image{}, registryError(ctx, orig, where, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return Image{}, errdefs.InvalidArgument("%s: invalid index from %s: %w", orig, where, err)
		}
		var child *v1.Descriptor
		for i, m := range im.Manifests {
			if m.Platform != nil && m.Platform.Satisfies(plat) && m.MediaType.IsImage() {
				child = &im.Manifests[i]
				break
			}
		}
		if child == nil {
			return Image{}, errdefs.NotFound("%s: no image for platform %s in its index", orig, plat.String())
		}
		img, err = remote.Image(ref.Context().Digest(child.Digest.String()), ropts...)
		if err != nil {
			return Image{}, registryError(ctx, orig, where, err)
		}
	case desc.MediaType == types.OCIManifestSchema1 || desc.MediaType == types.DockerManifestSchema2:
		img, err = desc.Image()
		if err != nil {
			return Image{}, registryError(ctx, orig, where, err)
		}
	default:
		return Image{}, errdefs.InvalidArgument("%s: %s returned unsupported manifest media type %q", orig, where, desc.MediaType)
	}

	mb, err := img.RawManifest()
	if err != nil {
		return Image{}, registryError(ctx, orig, where, err)
	}
	mt, _ := img.MediaType()
	m, err := v1.ParseManifest(bytes.NewReader(mb))
	if err != nil {
		return Image{}, errdefs.InvalidArgument("%s: invalid manifest from %s: %w", orig, where, err)
	}
	if m.Config.MediaType != types.OCIConfigJSON && m.Config.MediaType != types.DockerConfigJSON {
		return Image{}, errdefs.InvalidArgument("%s: not a container image (config media type %q)", orig, m.Config.MediaType)
	}
	md := descriptor{MediaType: string(mt), Digest: digestOf(mb), Size: int64(len(mb))}
	if dr, ok := ref.(name.Digest); ok && desc.MediaType.IsImage() && dr.DigestStr() != md.Digest {
		return Image{}, errdefs.InvalidArgument("%s: manifest hashes to %s", orig, md.Digest)
	}

	var created, pinned, builtIDs []string
	defer func() { s.settle(pinned, builtIDs, created) }()
	track := func(d string, made bool) {
		pinned = append(pinned, d)
		if made {
			created = append(created, d)
		}
	}

	d, made, err := s.blobs.put(ctx, bytes.NewReader(mb), int64(len(mb)), md.Digest)
	if err != nil {
		return Image{}, err
	}
	track(d, made)
	cb, err := img.RawConfigFile()
	if err != nil {
		return Image{}, registryError(ctx, orig, where, err)
	}
	if int64(len(cb)) != m.Config.Size || digestOf(cb) != m.Config.Digest.String() {
		return Image{}, errdefs.InvalidArgument("%s: config blob does not match its digest %s", orig, m.Config.Digest)
	}
	d, made, err = s.blobs.put(ctx, bytes.NewReader(cb), int64(len(cb)), m.Config.Digest.String())
	if err != nil {
		return Image{}, err
	}
	track(d, made)

	c := &candidate{manifest: mb, manifestDesc: md, configBytes: cb}
	for _, l := range m.Layers {
		if !layerMediaTypes[l.MediaType] {
			return Image{}, errdefs.InvalidArgument("%s: unsupported layer media type %q", orig, l.MediaType)
		}
		if _, err := blobName(l.Digest.String()); err != nil {
			return Image{}, err
		}
		if l.Size < 0 {
			return Image{}, errdefs.InvalidArgument("%s: negative layer size", orig)
		}
		c.layers = append(c.layers, descriptor{MediaType: string(l.MediaType), Digest: l.Digest.String(), Size: l.Size})
	}
	if err := c.parseConfig(); err != nil {
		return Image{}, err
	}

	for _, l := range c.layers {
		id := shortDigest(l.Digest)
		open := func() (io.ReadCloser, error) {
			h, _ := v1.NewHash(l.Digest)
			rl, err := remote.Layer(ref.Context().Digest(h.String()), ropts...)
			if err != nil {
				return nil, err
			}
			return rl.Compressed()
		}
		d, made, err := s.fetchBlob(ctx, l, open, func(p PullProgress) { p.ID = id; progress(p) })
		if err != nil {
			if ctx.Err() != nil {
				return Image{}, ctx.Err()
			}
			if errors.Is(err, errdefs.ErrInvalidArgument) {
				return Image{}, fmt.Errorf("%s: layer %s: %w", orig, l.Digest, err)
			}
			return Image{}, registryError(ctx, orig, where, fmt.Errorf("layer %s: %w", l.Digest, err))
		}
		track(d, made)
	}

	rec := &record{
		ID:       idOf(cb),
		Manifest: md,
		Config:   descriptor{MediaType: string(m.Config.MediaType), Digest: idOf(cb), Size: int64(len(cb))},
		Layers:   c.layers,
		Created:  c.config.Created.Time,
		Loaded:   time.Now().UTC(),
		OS:       c.config.OS,
		Arch:     c.config.Architecture,
		Run:      c.config.Config,
	}
	for _, d := range c.config.RootFS.DiffIDs {
		rec.DiffIDs = append(rec.DiffIDs, d.String())
	}
	canon := canonical(orig)
	if _, ok := orig.(name.Digest); !ok || desc.MediaType.IsIndex() {
		// A digest of an index names no manifest we keep: remember it as a
		// name so that the same reference resolves.
		rec.Names = []string{canon}
	}
	s.pins.pin(rootfsPin(rec.ID))
	pinned = append(pinned, rootfsPin(rec.ID))
	builtIDs = append(builtIDs, rec.ID)
	var lastLayer = -1
	hook := func(i int, l descriptor) {
		if lastLayer >= 0 {
			progress(PullProgress{ID: shortDigest(c.layers[lastLayer].Digest), Status: PullDone})
		}
		lastLayer = i
		progress(PullProgress{ID: shortDigest(l.Digest), Status: PullExtracting})
	}
	size, err := s.rootfs.ensure(context.WithValue(ctx, layerHookKey{}, hook), rec)
	if err != nil {
		return Image{}, err
	}
	rec.Size = size
	for _, l := range c.layers {
		progress(PullProgress{ID: shortDigest(l.Digest), Status: PullDone})
	}
	out, err := s.catalog.register([]*record{rec})
	if err != nil {
		return Image{}, err
	}
	return out[0], nil
}

func shortDigest(d string) string {
	h := strings.TrimPrefix(d, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// fetchBlob puts the blob l into the store from open() unless it is there,
// sharing the download with concurrent pulls. Like blobStore.put, it pins
// the digest on success.
func (s *Store) fetchBlob(ctx context.Context, l descriptor, open func() (io.ReadCloser, error), progress func(PullProgress)) (string, bool, error) {
	for {
		fetchMu.Lock()
		m := fetches[s]
		if m == nil {
			m = map[string]*fetch{}
			fetches[s] = m
		}
		if f := m[l.Digest]; f != nil {
			fetchMu.Unlock()
			progress(PullProgress{Status: PullWaiting, Total: l.Size})
			select {
			case <-f.done:
				continue
			case <-ctx.Done():
				return "", false, ctx.Err()
			}
		}
		f := &fetch{done: make(chan struct{})}
		m[l.Digest] = f
		fetchMu.Unlock()

		lr := &lazyReader{open: open, size: l.Size, progress: progress}
		d, made, err := s.blobs.put(ctx, lr, l.Size, l.Digest)
		lr.close()

		fetchMu.Lock()
		delete(m, l.Digest)
		if len(m) == 0 {
			delete(fetches, s)
		}
		close(f.done)
		fetchMu.Unlock()
		if err == nil {
			if lr.rc == nil {
				progress(PullProgress{Status: PullExists, Current: l.Size, Total: l.Size})
			} else {
				progress(PullProgress{Status: PullVerifying, Current: l.Size, Total: l.Size})
			}
		}
		return d, made, err
	}
}

// lazyReader opens the blob on first read (never, when the store has it)
// and reports download progress.
type lazyReader struct {
	open     func() (io.ReadCloser, error)
	rc       io.ReadCloser
	size     int64
	n        int64
	last     time.Time
	progress func(PullProgress)
}

func (r *lazyReader) Read(p []byte) (int, error) {
	if r.rc == nil {
		rc, err := r.open()
		if err != nil {
			return 0, err
		}
		r.rc = rc
		r.progress(PullProgress{Status: PullDownloading, Total: r.size})
	}
	n, err := r.rc.Read(p)
	r.n += int64(n)
	if now := time.Now(); now.Sub(r.last) > 100*time.Millisecond || (err != nil && n > 0) {
		r.last = now
		r.progress(PullProgress{Status: PullDownloading, Current: r.n, Total: r.size})
	}
	return n, err
}

func (r *lazyReader) close() {
	if r.rc != nil {
		r.rc.Close()
	}
}

// registryError gives a registry failure its errdefs kind and a message
// naming the reference.
func registryError(ctx context.Context, ref name.Reference, where string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
				return errdefs.NotFound("%s: not found in %s: %w", ref, where, err)
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return fmt.Errorf("%s: %s refused access (log in with `hyperctl login %s`, or check the credentials in hyperd's docker config): %v", ref, where, where, err)
			}
		}
		switch te.StatusCode {
		case http.StatusNotFound:
			return errdefs.NotFound("%s: not found in %s: %w", ref, where, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %s refused access (log in with `hyperctl login %s`, or check the credentials in hyperd's docker config): %v", ref, where, where, err)
		}
		return errdefs.Unavailable("%s: registry %s failed: %w", ref, where, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errdefs.Unavailable("%s: cannot reach registry %s: %w", ref, where, err)
	}
	if errors.Is(err, errdefs.ErrInvalidArgument) || errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnavailable) {
		return err
	}
	return errdefs.InvalidArgument("%s: bad answer from registry %s: %w", ref, where, err)
}
