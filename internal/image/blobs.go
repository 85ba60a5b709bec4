package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hyperhq/hyper/internal/errdefs"
)

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

// putBlob copies size bytes of r into the blob store, checking them
// against want ("sha256:<hex>"; empty means "whatever it hashes to"). It
// returns the digest and whether this call created the blob (false when
// the store already had it). The blob appears only complete and verified:
// temp file, fsync, rename, fsync of the directory. The caller must have
// unpin the returned digest once done with it (on success only).
func (s *Store) putBlob(ctx context.Context, r io.Reader, size int64, want string) (dgst string, created bool, err error) {
	if want != "" {
		p, err := s.blobPath(want)
		if err != nil {
			return "", false, err
		}
		s.pin(want)
		if fi, err := os.Stat(p); err == nil && fi.Size() == size {
			return want, false, nil
		}
		defer func() {
			if err != nil {
				s.unpin(want)
			}
		}()
	}
	tmp, err := os.CreateTemp(s.tmpDir(), "blob-*")
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
		s.pin(dgst)
		defer func() {
			if err != nil {
				s.unpin(dgst)
			}
		}()
	}
	final, _ := s.blobPath(dgst)
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

// openBlob opens a stored blob.
func (s *Store) openBlob(dgst string) (*os.File, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, errdefs.NotFound("blob %s is missing from the store", dgst)
	}
	return f, err
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
