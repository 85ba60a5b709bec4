// Package inroot creates files inside a container's root filesystem.
// Every path is resolved as if the root were "/" (openat2 with
// RESOLVE_IN_ROOT): "..", absolute symlinks and relative symlinks of the
// image, which is untrusted, never lead out of it.
package inroot

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// Root is an open root directory.
type Root struct {
	fd  int
	dir string // for messages
}

// Open opens dir as a root.
func Open(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening root %s: %w", dir, err)
	}
	return &Root{fd: fd, dir: dir}, nil
}

// Close closes the root.
func (r *Root) Close() error { return unix.Close(r.fd) }

func (r *Root) openat(dirfd int, name string, flags int, mode uint32, resolve uint64) (int, error) {
	for {
		fd, err := unix.Openat2(dirfd, name, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolve})
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) { // EAGAIN: a rename raced the lookup
			continue
		}
		return fd, err
	}
}

// clean makes name relative to the root: "/a/../b/" is "b", "/" is ".".
func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// OpenRegular opens a regular file of the root for reading; a missing
// file is an error for which errors.Is(err, os.ErrNotExist) holds.
func (r *Root) OpenRegular(name string) (*os.File, error) {
	fd, err := r.openat(r.fd, clean(name), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0, inRoot)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return f, nil
}

// MkdirAll creates dir and its missing parents (mode perm, owned by the
// caller) and returns an O_PATH descriptor of it.
func (r *Root) MkdirAll(dir string, perm uint32) (int, error) {
	rel := clean(dir)
	cur, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	if rel == "" {
		return cur, nil
	}
	walked := ""
	for _, comp := range strings.Split(rel, "/") {
		walked = path.Join(walked, comp)
		fd, err := r.openat(r.fd, walked, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
		if errors.Is(err, unix.ENOENT) {
			// cur is walked's parent, resolved: create comp right there.
			if err = unix.Mkdirat(cur, comp, perm); errors.Is(err, unix.EEXIST) {
				err = errors.New("a symlink to a missing directory")
			} else if err == nil {
				fd, err = r.openat(cur, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("creating directory /%s: %w", walked, err)
		}
		cur = fd
	}
	return cur, nil
}

// File is what WriteFile writes.
type File struct {
	Path     string
	Content  []byte
	Mode     uint32 // permission bits
	UID, GID int
}

// WriteFile creates or replaces the regular file f.Path with f's content,
// mode and owner, creating missing parent directories (0755, root). An
// existing file that is not a regular one (a directory, a FIFO, a device)
// is an error.
func (r *Root) WriteFile(f File) error {
	rel := clean(f.Path)
	if rel == "" {
		return fmt.Errorf("%q is the root directory, not a file", f.Path)
	}
	if f.Mode > 0o7777 {
		return fmt.Errorf("%s: bad mode %#o", f.Path, f.Mode)
	}
	dirfd, err := r.MkdirAll(path.Dir("/"+rel), 0o755)
	if err != nil {
		return err
	}
	unix.Close(dirfd)
	// Opened from the root again, so that a final symlink resolves inside
	// it too; O_NONBLOCK so that a FIFO cannot block the open.
	fd, err := r.openat(r.fd, rel, unix.O_WRONLY|unix.O_CREAT|unix.O_NONBLOCK|unix.O_NOCTTY, 0o600, inRoot)
	if errors.Is(err, unix.ENXIO) { // a FIFO without reader, a socket
		return fmt.Errorf("%s exists and is not a regular file", f.Path)
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", f.Path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s exists and is not a regular file", f.Path)
	}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"truncating", func() error { return unix.Ftruncate(fd, 0) }},
		// chown before chmod: chown clears the set-id bits.
		{"chown", func() error { return unix.Fchown(fd, f.UID, f.GID) }},
		{"chmod", func() error { return unix.Fchmod(fd, f.Mode) }},
		{"writing", func() error { return writeAll(fd, f.Content) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s %s: %w", s.what, f.Path, err)
		}
	}
	return nil
}

// writeAll writes b to the regular file fd (O_NONBLOCK means nothing to
// regular files).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
