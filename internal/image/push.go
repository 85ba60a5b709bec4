package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// PushOptions tune Push.
type PushOptions struct {
	// Registry: only Insecure counts (mirrors are for pulls).
	Registry Registry
	// Keychain gives credentials; nil means authn.DefaultKeychain, as for
	// Pull.
	Keychain authn.Keychain
	// Transport is the HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Progress, if set, receives the bytes uploaded so far and the total
	// (never from several goroutines at once).
	Progress func(PushProgress)
}

// PushProgress is a progress report of Push.
type PushProgress struct {
	Current int64
	Total   int64
}

// PushResult says what Push pushed.
type PushResult struct {
	Name   string // canonical name pushed to
	Digest string // manifest digest: the stored one, unchanged
	Size   int64  // manifest size
}

// Push uploads the image named ref (a name, "registry/repo:tag" or
// "registry/repo@sha256:...", not an ID: the name says where to) to its
// registry, from the stored blobs: the manifest goes up byte for byte, so
// the registry's digest is the stored ManifestDigest. Errors as Pull's.
func (s *Store) Push(ctx context.Context, ref string, opts PushOptions) (PushResult, error) {
	rec, kind, canon, err := s.catalog.lookup(ref)
	if err != nil {
		return PushResult{}, err
	}
	switch kind {
	case byID:
		return PushResult{}, errdefs.InvalidArgument("push needs an image name (registry/repository:tag), not an ID: tag the image first")
	case byDigest:
		pr, _ := parseName(ref)
		canon = canonical(pr)
	}
	s.pins.pin(rec.blobs()...)
	defer s.pins.unpin(rec.blobs()...)

	pr, err := parseName(canon)
	if err != nil {
		return PushResult{}, err
	}
	srcs := sources(pr, Registry{Insecure: opts.Registry.Insecure})
	dst := srcs[len(srcs)-1].ref

	keys := opts.Keychain
	if keys == nil {
		keys = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keys), remote.WithUserAgent("hyperd")}
	if opts.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opts.Transport))
	}
	var wg sync.WaitGroup
	if opts.Progress != nil {
		ch := make(chan v1.Update, 16)
		ropts = append(ropts, remote.WithProgress(ch))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range ch {
				if u.Error == nil {
					opts.Progress(PushProgress{Current: u.Complete, Total: u.Total})
				}
			}
		}()
	}
	img, err := partial.CompressedToImage(storedImage{s: s.blobs, r: rec})
	if err == nil {
		err = remote.Write(dst, img, ropts...)
	}
	wg.Wait()
	if err != nil {
		return PushResult{}, registryError(ctx, dst, dst.Context().RegistryStr(), err)
	}
	return PushResult{Name: canon, Digest: rec.Manifest.Digest, Size: rec.Manifest.Size}, nil
}

// storedImage is a stored image as go-containerregistry sees it.
type storedImage struct {
	s *blobStore
	r *record
}

func (i storedImage) RawConfigFile() ([]byte, error) { return i.s.read(i.r.Config) }

func (i storedImage) RawManifest() ([]byte, error) { return i.s.read(i.r.Manifest) }

func (i storedImage) MediaType() (types.MediaType, error) {
	if i.r.Manifest.MediaType != "" {
		return types.MediaType(i.r.Manifest.MediaType), nil
	}
	b, err := i.RawManifest()
	if err != nil {
		return "", err
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.MediaType == "" {
		return types.OCIManifestSchema1, nil
	}
	return m.MediaType, nil
}

func (i storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.r.Layers {
		if l.Digest == h.String() {
			return storedLayer{s: i.s, d: l}, nil
		}
	}
	if i.r.Config.Digest == h.String() {
		return storedLayer{s: i.s, d: i.r.Config}, nil
	}
	return nil, fmt.Errorf("image %s has no blob %s", i.r.ID, h)
}

type storedLayer struct {
	s *blobStore
	d descriptor
}

func (l storedLayer) Digest() (v1.Hash, error)            { return v1.NewHash(l.d.Digest) }
func (l storedLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l storedLayer) MediaType() (types.MediaType, error) { return types.MediaType(l.d.MediaType), nil }
func (l storedLayer) Compressed() (io.ReadCloser, error) {
	f, err := l.s.open(l.d.Digest)
	if err != nil {
		return nil, err
	}
	return f, nil
}
