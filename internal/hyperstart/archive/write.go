// Package archive builds and extracts the tar archives of hyperctl cp and
// export inside a container's root filesystem. Paths are resolved inside
// the root (package inroot); below that every step is a *at call on a
// directory descriptor that never follows a symlink, so neither the
// image, nor a process of the container racing the copy, nor the host's
// archive (whose names, links and types are checked: see
// protocol.CleanArchiveName) can lead a read or a write out of the root.
package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/protocol"
)

// Writer archives files into a tar stream.
type Writer struct {
	tw    *tar.Writer
	links map[[2]uint64]string // first name of each multiply-linked file
	// Whiteouts: the files are an overlay upper directory, whose
	// whiteouts become OCI ones.
	Whiteouts bool
}

// NewWriter returns a Writer onto tw.
func NewWriter(tw *tar.Writer) *Writer {
	return &Writer{tw: tw, links: make(map[[2]uint64]string)}
}

// Add archives base, an entry of directory dirfd, recursively, under
// name; a directory named "." or "" is archived as its contents only.
func (w *Writer) Add(dirfd int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if name == "." {
		name = ""
	}
	return w.add(dirfd, base, name, &st)
}

func (w *Writer) add(dirfd int, base, name string, st *unix.Stat_t) error {
	hdr := Header(name, st)
	if w.Whiteouts && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return w.writeHeader(whiteout(path.Join(path.Dir(name), ".wh."+path.Base(name)), hdr))
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return w.addDir(dirfd, base, name, hdr)
	case unix.S_IFREG:
		return w.addFile(dirfd, base, name, hdr, st)
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, base)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", name, err)
		}
		hdr.Linkname = target
	case unix.S_IFSOCK:
		return nil // tar has no sockets
	}
	return w.writeHeader(hdr)
}

func (w *Writer) writeHeader(hdr *tar.Header) error {
	if hdr.Name == "" {
		return nil
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archiving %s: %w", hdr.Name, err)
	}
	return nil
}

func (w *Writer) addDir(dirfd int, base, name string, hdr *tar.Header) error {
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if name != "" {
		hdr.Name = name + "/"
	}
	if err := w.writeHeader(hdr); err != nil {
		return err
	}
	if w.Whiteouts && name != "" && opaque(fd) {
		if err := w.writeHeader(whiteout(path.Join(name, ".wh..wh..opq"), hdr)); err != nil {
			return err
		}
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", name, err)
	}
	slices.Sort(names)
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			continue // removed meanwhile
		} else if err != nil {
			return fmt.Errorf("stat %s: %w", path.Join(name, n), err)
		}
		if err := w.add(fd, n, path.Join(name, n), &st); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) addFile(dirfd int, base, name string, hdr *tar.Header, st *unix.Stat_t) error {
	if st.Nlink > 1 {
		key := [2]uint64{st.Dev, st.Ino}
		if first, ok := w.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return w.writeHeader(hdr)
		}
		w.links[key] = name
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	if err := w.writeHeader(hdr); err != nil {
		return err
	}
	if n, err := io.CopyN(w.tw, f, hdr.Size); err != nil {
		return fmt.Errorf("archiving %s (%d of %d bytes): %w", name, n, hdr.Size, err)
	}
	return nil
}

// whiteout is an OCI whiteout entry named name.
func whiteout(name string, like *tar.Header) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, ModTime: like.ModTime}
}

// opaque tells whether overlayfs marked directory fd opaque (its lower
// contents hidden).
func opaque(fd int) bool {
	var b [1]byte
	n, err := unix.Fgetxattr(fd, "trusted.overlay.opaque", b[:])
	return err == nil && n == 1 && b[0] == 'y'
}

// Header is the tar header of a file named name with stat st (its
// Linkname not filled).
func Header(name string, st *unix.Stat_t) *tar.Header {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).Truncate(time.Second),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	}
	return hdr
}

// Stat returns the PathStat of base, an entry of directory dirfd.
func Stat(dirfd int, base, name string) (protocol.PathStat, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return protocol.PathStat{}, err
	}
	ps := protocol.PathStat{Name: name, Size: st.Size, Mode: st.Mode, MtimeNanos: st.Mtim.Nano()}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		target, err := readlinkat(dirfd, base)
		if err != nil {
			return protocol.PathStat{}, err
		}
		ps.LinkTarget = target
	}
	return ps, nil
}

func readlinkat(dirfd int, base string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, base, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
