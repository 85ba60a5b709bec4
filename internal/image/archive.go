package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image/fstree"
)

const (
	maxArchiveEntries = 1 << 20
	maxJSONSize       = 8 << 20 // manifests, indexes, configs
)

// archive is a spooled tar archive with an index of its regular files, so
// that blobs can be read in any order without extracting anything.
type archive struct {
	f     *os.File
	files map[string]archiveFile
}

type archiveFile struct {
	off, size int64
}

// countingReader counts what passes through.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// spool copies r (a tar archive, possibly gzip-compressed) into a temp
// file under tmp, at most max bytes after decompression, and indexes it.
// The caller closes and removes the file (archive.close).
func spool(ctx context.Context, r io.Reader, tmp string, max int64) (*archive, error) {
	f, err := os.CreateTemp(tmp, "load-*.tar")
	if err != nil {
		return nil, err
	}
	a := &archive{f: f, files: map[string]archiveFile{}}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, errdefs.InvalidArgument("archive: %w", err)
		}
		src = zr
	}
	n, err := io.Copy(f, io.LimitReader(src, max+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, ok := src.(*gzip.Reader); ok {
			return nil, errdefs.InvalidArgument("archive: %w", err)
		}
		return nil, fmt.Errorf("archive: read: %w", err)
	}
	if n > max {
		return nil, errdefs.InvalidArgument("archive larger than the limit of %d bytes", max)
	}
	if err := a.index(); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

func (a *archive) index() error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cr := &countingReader{r: bufio.NewReaderSize(a.f, 1<<20)}
	tr := tar.NewReader(cr)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errdefs.InvalidArgument("archive: %w", err)
		}
		if n > maxArchiveEntries {
			return errdefs.InvalidArgument("archive: more than %d entries", maxArchiveEntries)
		}
		name, err := fstree.CleanName(hdr.Name)
		if err != nil {
			return errdefs.InvalidArgument("archive: entry %q: %w", hdr.Name, err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeReg:
		default:
			// Links and devices have no place in an image archive;
			// ignore them rather than follow them.
			continue
		}
		if _, dup := a.files[name]; dup {
			return errdefs.InvalidArgument("archive: duplicate entry %q", name)
		}
		// archive/tar reads headers in whole blocks and no further, so the
		// count is where the entry's data starts.
		a.files[name] = archiveFile{off: cr.n, size: hdr.Size}
	}
	// Every indexed file must lie within the spooled bytes: tar.Next
	// skips over file data, so a truncated archive fails above, but check.
	fi, err := a.f.Stat()
	if err != nil {
		return err
	}
	for name, e := range a.files {
		if e.off+e.size > fi.Size() {
			return errdefs.InvalidArgument("archive: entry %q is truncated", name)
		}
	}
	return nil
}

func (a *archive) close() {
	a.f.Close()
	os.Remove(a.f.Name())
}

func (a *archive) has(name string) bool {
	_, ok := a.files[name]
	return ok
}

// open returns a reader of the named file and its size.
func (a *archive) open(name string) (*io.SectionReader, error) {
	e, ok := a.files[name]
	if !ok {
		return nil, errdefs.InvalidArgument("archive: %q is missing", name)
	}
	return io.NewSectionReader(a.f, e.off, e.size), nil
}

// readSmall reads a JSON document of the archive.
func (a *archive) readSmall(name string) ([]byte, error) {
	r, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > maxJSONSize {
		return nil, errdefs.InvalidArgument("archive: %q is larger than %d bytes", name, maxJSONSize)
	}
	b := make([]byte, r.Size())
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("archive: read %q: %w", name, err)
	}
	return b, nil
}
