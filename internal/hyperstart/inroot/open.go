package inroot

import (
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// OpenFd opens name with flags (plus O_CLOEXEC), every symlink on the way,
// a final one included, resolved inside the root. The caller closes the
// descriptor.
func (r *Root) OpenFd(name string, flags int) (int, error) {
	rel := clean(name)
	if rel == "" {
		rel = "."
	}
	fd, err := r.openat(r.fd, rel, flags, 0, inRoot)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %w", name, err)
	}
	return fd, nil
}

// OpenParent resolves name's parent directory inside the root and
// returns an O_PATH descriptor of it and name's last element ("." for
// the root itself), which the caller looks at with *at calls that do not
// follow it (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW).
func (r *Root) OpenParent(name string) (dirfd int, base string, err error) {
	rel := clean(name)
	if rel == "" {
		fd, err := unix.Dup(r.fd)
		return fd, ".", err
	}
	dir, base := path.Split(rel)
	if dir = clean(dir); dir == "" {
		dir = "."
	}
	fd, err := r.openat(r.fd, dir, unix.O_PATH|unix.O_DIRECTORY, 0, inRoot)
	if err != nil {
		return -1, "", fmt.Errorf("opening /%s: %w", dir, err)
	}
	return fd, base, nil
}
