package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// blobStore is the content-addressed blob store: manifests, configs and
// layers as loaded, each in blobs/sha256/<hex>, written only complete and
// verified. Blobs in use by an operation in flight are pinned (pins, which
// GC respects); which blobs the images reference is the catalog's.
type blobStore struct {
	dir  string // <root>/blobs/sha256
	tmp  string // <root>/tmp
	pins *pinSet
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// put copies size bytes of r into the blob store, checking them
// against want ("sha256:<hex>"; empty means "whatever it hashes to"). It
// returns the digest and whether this call created the blob (false when
// the store already had it). The blob appears only complete and verified:
// temp file, fsync, rename, fsync of the directory. The caller must have
// unpin the returned digest once done with it (on success only).
func (s *blobStore) put(ctx context.Context, r io.Reader, size int64, want string) (dgst string, created bool, err error) {
	if want != "" {
		p, err := s.path(want)
		if err != nil {
			return "", false, err
		}
		s.pins.pin(want)
		if fi, err := os.Stat(p); err == nil && fi.Size() == size {
			return want, false, nil
		}
		defer func() {
			if err != nil {
				s.pins.unpin(want)
			}
		}()
	}
	tmp, err := os.CreateTemp(s.tmp, "blob-*")
	if err != nil {
		return "", false, err
	}
	defer func() {
		tmp.Close()
		if err != nil || !created {
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(ctxReader{ctx, r}, size+1))
	if err != nil {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return "", false, fmt.Errorf("image store: write blob: %w", err)
	}
	if n != size {
		return "", false, errdefs.InvalidArgument("blob %s: size %d, expected %d", want, n, size)
	}
	dgst = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && dgst != want {
		return "", false, errdefs.InvalidArgument("blob digest mismatch: content hashes to %s, expected %s", dgst, want)
	}
	if want == "" {
		s.pins.pin(dgst)
		defer func() {
			if err != nil {
				s.pins.unpin(dgst)
			}
		}()
	}
	final, _ := s.path(dgst)
	if _, err := os.Stat(final); err == nil {
		return dgst, false, nil
	}
	if err := tmp.Sync(); err != nil {
		return "", false, err
	}
	if err := tmp.Chmod(0o444); err != nil {
		return "", false, err
	}
	if err := tmp.Close(); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", false, err
	}
	created = true
	syncDir(filepath.Dir(final))
	return dgst, true, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// path is where blob dgst is (or would be) stored.
func (s *blobStore) path(dgst string) (string, error) {
	h, ok := strings.CutPrefix(dgst, "sha256:")
	if !ok || len(h) != 64 || !isHex(h) {
		return "", errdefs.InvalidArgument("unsupported digest %q", dgst)
	}
	return filepath.Join(s.dir, h), nil
}

// open opens a stored blob.
func (s *blobStore) open(dgst string) (*os.File, error) {
	p, err := s.path(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, errdefs.NotFound("blob %s is missing from the store", dgst)
	}
	return f, err
}

// read reads a small stored blob (at most 64 MiB) and checks its digest.
func (s *blobStore) read(d descriptor) ([]byte, error) {
	f, err := s.open(d.Digest)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, err
	}
	if digestOf(b) != d.Digest {
		return nil, fmt.Errorf("image store: blob %s is corrupt", d.Digest)
	}
	return b, nil
}

// copyTo writes blob d to tw as blobs/sha256/<hex>, checking its size.
func (s *blobStore) copyTo(ctx context.Context, tw *tar.Writer, d descriptor, mtime time.Time) error {
	f, err := s.open(d.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != d.Size {
		return errdefs.Unavailable("blob %s is damaged in the store (size %d, expected %d)", d.Digest, fi.Size(), d.Size)
	}
	name := "blobs/sha256/" + strings.TrimPrefix(d.Digest, "sha256:")
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: d.Size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(tw, ctxReader{ctx, f})
	return err
}

// onDisk lists the blobs on disk, by digest.
func (s *blobStore) onDisk() []string {
	var digests []string
	if es, err := os.ReadDir(s.dir); err == nil {
		for _, e := range es {
			if e.Type().IsRegular() {
				digests = append(digests, "sha256:"+e.Name())
			}
		}
	}
	return digests
}

// size is the space blob dgst takes on disk (0 if it is not there).
func (s *blobStore) size(dgst string) int64 {
	p, err := s.path(dgst)
	if err != nil {
		return 0
	}
	return diskSize(p)
}

// delete deletes blob dgst, and says how much space that freed. GC
// (collect) calls it for a blob it has marked as deleting.
func (s *blobStore) delete(dgst string) (int64, bool) {
	p, err := s.path(dgst)
	if err != nil {
		return 0, false
	}
	n := diskSize(p)
	if os.Remove(p) != nil {
		return 0, false
	}
	return n, true
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func digestReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
