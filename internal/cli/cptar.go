package cli

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hyperhq/hyper/internal/tarcheck"
)

// extractOptions tune extractTar.
type extractOptions struct {
	// renameFrom, if set, is the archive's top entry, extracted as
	// renameTo.
	renameFrom, renameTo string
	keepOwners           bool // cp -a: the archive's uid/gid
	warn                 io.Writer
}

// extractTar extracts the archive r (from hyperd: the guest's, checked
// there, and checked again here) into root, which no entry, link or
// symlink can leave (os.Root).
func extractTar(root *os.Root, r io.Reader, o extractOptions) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		hdr, err := tarcheck.Check(h)
		if err != nil {
			return err
		}
		name := rebase(strings.TrimSuffix(hdr.Name, "/"), o.renameFrom, o.renameTo)
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rebase(hdr.Linkname, o.renameFrom, o.renameTo)
		}
		if err := extractEntry(root, name, hdr, tr, o); err != nil {
			return err
		}
	}
}

// rebase renames name's first element from to to.
func rebase(name, from, to string) string {
	if from == "" || from == to {
		return name
	}
	if name == from {
		return to
	}
	if rest, ok := strings.CutPrefix(name, from+"/"); ok {
		return path.Join(to, rest)
	}
	return name
}

func extractEntry(root *os.Root, name string, hdr *tar.Header, r io.Reader, o extractOptions) error {
	mode := fs.FileMode(hdr.Mode & 0o777)
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeDir && name != "." {
		if fi, err := root.Lstat(name); err == nil {
			if fi.IsDir() {
				return fmt.Errorf("cannot overwrite directory %s with non-directory", name)
			}
			if err := root.Remove(name); err != nil {
				return err
			}
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
	case tar.TypeReg:
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
	case tar.TypeLink:
		if err := root.Link(hdr.Linkname, name); err != nil {
			return err
		}
		return nil
	default:
		if o.warn != nil {
			fmt.Fprintf(o.warn, "hyperctl: skipping %s: hyperctl cp does not create device nodes or FIFOs\n", name)
		}
		return nil
	}
	if o.keepOwners {
		if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	}
	return nil
}

// writeTar archives the local path src as name (its contents at the
// top when name is ""), not following symlinks below src; with follow,
// src itself is followed.
func writeTar(w io.Writer, src, name string, follow bool) error {
	if follow {
		s, err := filepath.EvalSymlinks(src)
		if err != nil {
			return err
		}
		src = s
	}
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		entry := path.Join(name, filepath.ToSlash(rel))
		if name == "" && rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
