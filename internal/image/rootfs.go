package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image/fstree"
)

// rootfsStore builds and keeps the root file systems: one EROFS image per
// image, rootfs/<id-hex>.erofs, the merge of its layers (read from the
// blob store), built once and kept read-only until the image goes.
// Concurrent builds of one image are one build. A root file system in use
// by an operation in flight is pinned (rootfsPin(id), in pins), and GC
// keeps it as it keeps the ones being built.
type rootfsStore struct {
	dir, tmp string // <root>/rootfs, <root>/tmp
	blobs    *blobStore
	pins     *pinSet
	// maxImageSize and maxEntries bound what one image expands to
	// (Options.MaxImageSize, MaxEntries).
	maxImageSize int64
	maxEntries   int
	// record is the catalog's record of a full image ID.
	record func(id string) (*record, error)

	mu     sync.Mutex
	builds map[string]*build // image ID -> build in progress
	ended  uint64            // how many builds have ended

	buildCount atomic.Int64 // root file systems built, for tests
}

// build is a root file system build in progress; concurrent callers for
// the same image wait for it instead of building again.
type build struct {
	done chan struct{}
	size int64
	err  error
}

// path is where image id's root file system is (or would be).
func (s *rootfsStore) path(id string) string {
	return filepath.Join(s.dir, strings.TrimPrefix(id, "sha256:")+".erofs")
}

// ensure builds rec's root file system unless it exists, and returns the
// image's uncompressed layer size. The caller pins rec's blobs and
// rootfsPin(rec.ID). The file and the record are looked at without
// s.mu; a build that started or ended meanwhile makes it look again.
func (s *rootfsStore) ensure(ctx context.Context, rec *record) (int64, error) {
	for {
		s.mu.Lock()
		if b := s.builds[rec.ID]; b != nil {
			s.mu.Unlock()
			select {
			case <-b.done:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			if b.err != nil && ctx.Err() == nil && (errors.Is(b.err, context.Canceled) || errors.Is(b.err, context.DeadlineExceeded)) {
				continue // the builder gave up, not us: try again
			}
			return b.size, b.err
		}
		ended := s.ended
		s.mu.Unlock()
		if fi, err := os.Stat(s.path(rec.ID)); err == nil && fi.Mode().IsRegular() {
			if r, err := s.record(rec.ID); err == nil {
				return r.Size, nil
			}
			// A root file system without a record: left by a crash, or
			// built by a load that has not registered yet (then it would
			// be in s.builds). Build it again.
		}
		s.mu.Lock()
		if s.builds[rec.ID] != nil || s.ended != ended {
			s.mu.Unlock()
			continue
		}
		b := &build{done: make(chan struct{})}
		s.builds[rec.ID] = b
		s.mu.Unlock()

		b.size, b.err = s.build(ctx, rec)

		s.mu.Lock()
		delete(s.builds, rec.ID)
		s.ended++
		close(b.done)
		s.mu.Unlock()
		return b.size, b.err
	}
}

// errTooBig is returned by budgetReader past the image size limit.
var errTooBig = errors.New("uncompressed size exceeds the limit")

// budgetReader fails once more than *left bytes have been read.
type budgetReader struct {
	r    io.Reader
	left *int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if *b.left <= 0 {
		// Allow reading EOF, nothing more.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errTooBig
		}
		return 0, err
	}
	if int64(len(p)) > *b.left {
		p = p[:*b.left]
	}
	n, err := b.r.Read(p)
	*b.left -= int64(n)
	return n, err
}

// decompress returns the uncompressed stream of a layer blob, by its magic.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(128<<20), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// build merges rec's layers and writes rootfs/<id>.erofs. Each layer's
// uncompressed stream is checked against the config's diff ID, and all of
// them together against Options.MaxImageSize.
func (s *rootfsStore) build(ctx context.Context, rec *record) (size int64, err error) {
	s.buildCount.Add(1)
	if len(rec.DiffIDs) != len(rec.Layers) {
		return 0, errdefs.InvalidArgument("image %s: %d layers but %d diff IDs", rec.ID, len(rec.Layers), len(rec.DiffIDs))
	}
	spool, err := os.CreateTemp(s.tmp, "spool-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	tree := fstree.New(spool, fstree.Limits{MaxEntries: s.maxEntries, MaxContentBytes: s.maxImageSize})
	left := s.maxImageSize
	for i, l := range rec.Layers {
		if hook, ok := ctx.Value(layerHookKey{}).(func(int, descriptor)); ok {
			hook(i, l)
		}
		if err := s.applyLayer(ctx, tree, i, l, rec.DiffIDs[i], &left); err != nil {
			return 0, err
		}
	}
	size = s.maxImageSize - left

	out, err := os.CreateTemp(s.tmp, "rootfs-*")
	if err != nil {
		return 0, err
	}
	defer func() {
		out.Close()
		if err != nil {
			os.Remove(out.Name())
		}
	}()
	if err := tree.WriteErofs(out, s.tmp); err != nil {
		return 0, fmt.Errorf("image %s: write erofs: %w", rec.ID, err)
	}
	if err := out.Sync(); err != nil {
		return 0, err
	}
	if err := out.Chmod(0o444); err != nil {
		return 0, err
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	final := s.path(rec.ID)
	if err := os.Rename(out.Name(), final); err != nil {
		return 0, err
	}
	syncDir(filepath.Dir(final))
	return size, nil
}

func (s *rootfsStore) applyLayer(ctx context.Context, tree *fstree.Tree, i int, l descriptor, diffID string, left *int64) error {
	f, err := s.blobs.open(l.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	dr, closeFn, err := decompress(f)
	if err != nil {
		return errdefs.InvalidArgument("layer %d (%s): %w", i+1, l.Digest, err)
	}
	defer closeFn()
	h := sha256.New()
	stream := io.TeeReader(&budgetReader{r: ctxReader{ctx, dr}, left: left}, h)
	fail := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case *left <= 0:
			return errdefs.InvalidArgument("layer %d (%s): uncompressed image size exceeds the limit of %d bytes", i+1, l.Digest, s.maxImageSize)
		}
		return err
	}
	if err := tree.Apply(stream); err != nil {
		return fail(err)
	}
	// The diff ID covers the whole stream, including what follows the
	// tar end-of-archive marker.
	if _, err := io.Copy(io.Discard, stream); err != nil {
		return fail(errdefs.InvalidArgument("layer %d (%s): %w", i+1, l.Digest, err))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return errdefs.InvalidArgument("layer %d (%s): uncompressed digest %s does not match diff ID %s", i+1, l.Digest, got, diffID)
	}
	return nil
}

// onDisk lists the root file systems on disk, by image ID.
func (s *rootfsStore) onDisk() []string {
	var ids []string
	if es, err := os.ReadDir(s.dir); err == nil {
		for _, e := range es {
			if h, ok := strings.CutSuffix(e.Name(), ".erofs"); ok && e.Type().IsRegular() {
				ids = append(ids, "sha256:"+h)
			}
		}
	}
	return ids
}

// building tells whether image id's root file system is being built.
func (s *rootfsStore) building(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.builds[id] != nil
}

// delete deletes image id's root file system, and says how much space
// that freed. GC (collect) calls it for one it has marked as deleting.
func (s *rootfsStore) delete(id string) (int64, bool) {
	p := s.path(id)
	n := diskSize(p)
	if os.Remove(p) != nil {
		return 0, false
	}
	return n, true
}

func rootfsPin(id string) string { return "rootfs:" + id }
