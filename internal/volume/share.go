package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// A pod's host paths reach its VM through one 9p share (ADR 0007): a
// per-pod directory in which each host path is bind-mounted under the
// name of its pod volume, read-only binds for read-only volumes. The
// guest mounts the share once and binds its entries into containers.

// HostPath is a host file or directory to share, as resolved when the
// pod was created.
type HostPath struct {
	Entry    string // name in the share: the pod volume's name
	Path     string // the resolved real path
	ReadOnly bool
}

// Resolve resolves a host path (absolute) through its symlinks, so that
// what is bound is the real path; missing is true if it does not exist
// (then real is its resolved parent joined with its base name, for a
// caller that creates it). A path that is, or resolves to, a place inside
// one of the refused directories (hyperd's own state) is InvalidArgument.
func Resolve(path string, refused ...string) (real string, missing bool, err error) {
	if !filepath.IsAbs(path) || strings.IndexByte(path, 0) >= 0 {
		return "", false, errdefs.InvalidArgument("host path %q is not absolute", path)
	}
	real, err = filepath.EvalSymlinks(path)
	if errors.Is(err, os.ErrNotExist) {
		parent, perr := filepath.EvalSymlinks(filepath.Dir(path))
		if perr != nil {
			return "", true, errdefs.InvalidArgument("host path %s does not exist", path)
		}
		real, missing = filepath.Join(parent, filepath.Base(path)), true
	} else if err != nil {
		return "", false, errdefs.InvalidArgument("host path %s: %w", path, err)
	}
	for _, r := range refused {
		rr, err := filepath.EvalSymlinks(r)
		if err != nil {
			rr = filepath.Clean(r)
		}
		if real == rr || strings.HasPrefix(real, rr+"/") {
			if real == filepath.Clean(path) {
				return "", missing, errdefs.InvalidArgument("host path %s is inside hyperd's state (%s): refused", path, r)
			}
			return "", missing, errdefs.InvalidArgument("host path %s resolves through a symlink to %s, inside hyperd's state (%s): refused", path, real, r)
		}
	}
	return real, missing, nil
}

// BindShare creates dir and binds every host path into it. It binds from
// an O_PATH descriptor of the resolved path, checked to still be that
// path: a symlink swapped in since the pod was created is refused, not
// followed. On error nothing is left bound.
func BindShare(dir string, paths []HostPath) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating share %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			UnbindShare(dir)
		}
	}()
	for _, p := range paths {
		if err := bind(dir, p); err != nil {
			return err
		}
	}
	return nil
}

func bind(dir string, p HostPath) error {
	if strings.ContainsAny(p.Entry, "/\x00") || p.Entry == "" || p.Entry == "." || p.Entry == ".." {
		return errdefs.InvalidArgument("bad share entry %q", p.Entry)
	}
	fd, err := unix.Open(p.Path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return errdefs.Conflict("host path %s: %w (changed since the pod was created?)", p.Path, err)
	}
	defer unix.Close(fd)
	proc := fmt.Sprintf("/proc/self/fd/%d", fd)
	if got, err := os.Readlink(proc); err != nil || got != p.Path {
		return errdefs.Conflict("host path %s now resolves to %q: changed since the pod was created", p.Path, got)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("host path %s: %w", p.Path, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return errdefs.Conflict("host path %s is now a symlink: changed since the pod was created", p.Path)
	}
	target := filepath.Join(dir, p.Entry)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("share entry for %s: %w", p.Path, err)
	}
	if err := unix.Mount(proc, target, "", unix.MS_BIND, ""); err != nil {
		os.Remove(target)
		return fmt.Errorf("binding %s into the pod's share: %w", p.Path, err)
	}
	if p.ReadOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making the bind of %s read-only: %w", p.Path, err)
		}
	}
	return nil
}

// UnbindShare unmounts every entry of dir and removes them and dir. It
// never removes recursively: an entry still mounted stays, with an error,
// rather than its host files being deleted. A missing dir is not an error.
func UnbindShare(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading share %s: %w", dir, err)
	}
	var errs []error
	for _, e := range ents {
		target := filepath.Join(dir, e.Name())
		for {
			err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
			if err != nil { // EINVAL: no more mounts on it
				break
			}
		}
		if err := os.Remove(target); err != nil {
			errs = append(errs, fmt.Errorf("removing share entry: %w", err))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing share: %w", err))
	}
	return errors.Join(errs...)
}
