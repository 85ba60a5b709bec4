// Package tarcheck copies a tar archive from an untrusted source (the
// guest, an API client) entry by entry: each header is checked (clean
// relative names and hard link targets, known types, bounded counts)
// and the copy always ends with a complete archive, so that the reader
// on the other side never sees a malformed or hostile header.
package tarcheck

import (
	"archive/tar"
	"fmt"
	"io"

	"github.com/hyperhq/hyper/internal/protocol"
)

// MaxEntries bounds the entries of one archive.
const MaxEntries = 1 << 20

// Copy reads the archive src and writes it to dst, refusing a bad entry.
// It reads src no further than the archive's end.
func Copy(dst io.Writer, src io.Reader) error {
	tr := tar.NewReader(src)
	tw := tar.NewWriter(dst)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if n >= MaxEntries {
			return fmt.Errorf("archive has more than %d entries", MaxEntries)
		}
		out, err := Check(hdr)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(out); err != nil {
			return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
		}
		if out.Size > 0 {
			if _, err := io.CopyN(tw, tr, out.Size); err != nil {
				return fmt.Errorf("archive entry %q: %w", hdr.Name, err)
			}
		}
	}
}

// Check returns a clean copy of hdr (only the fields a file copy keeps)
// or why it is refused.
func Check(hdr *tar.Header) (*tar.Header, error) {
	name, err := protocol.CleanArchiveName(hdr.Name)
	if err != nil {
		return nil, err
	}
	out := &tar.Header{Typeflag: hdr.Typeflag, Name: name, Mode: hdr.Mode & 0o7777, Uid: hdr.Uid, Gid: hdr.Gid,
		ModTime: hdr.ModTime, Format: tar.FormatPAX}
	if out.Uid < 0 || out.Gid < 0 {
		return nil, fmt.Errorf("archive entry %q: bad owner %d:%d", hdr.Name, hdr.Uid, hdr.Gid)
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size < 0 {
			return nil, fmt.Errorf("archive entry %q: bad size %d", hdr.Name, hdr.Size)
		}
		out.Size = hdr.Size
	case tar.TypeDir:
		if name != "." {
			out.Name += "/"
		} else {
			out.Name = "./"
		}
	case tar.TypeSymlink:
		if len(hdr.Linkname) > protocol.MaxArchiveName || hdr.Linkname == "" {
			return nil, fmt.Errorf("archive entry %q: bad symlink target", hdr.Name)
		}
		out.Linkname = hdr.Linkname
	case tar.TypeLink:
		target, err := protocol.CleanArchiveName(hdr.Linkname)
		if err != nil || target == "." {
			return nil, fmt.Errorf("archive entry %q: bad hard link target %q", hdr.Name, hdr.Linkname)
		}
		out.Linkname = target
	case tar.TypeFifo:
	case tar.TypeChar, tar.TypeBlock:
		out.Devmajor, out.Devminor = hdr.Devmajor, hdr.Devminor
	default:
		return nil, fmt.Errorf("archive entry %q: unsupported type %q", hdr.Name, hdr.Typeflag)
	}
	return out, nil
}
