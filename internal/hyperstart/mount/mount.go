// Package mount wraps mount(2): mount tables, mountpoint creation and
// errors that say what failed.
package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Entry is one mount in a table.
type Entry struct {
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
	Mode   os.FileMode // of the mountpoint if it must be created (default 0755)
	// Optional entries that fail are skipped (the caller may log them).
	Optional bool
}

// Mount mounts e, creating its mountpoint directory if needed.
func (e Entry) Mount() error {
	mode := e.Mode
	if mode == 0 {
		mode = 0o755
	}
	if err := os.MkdirAll(e.Target, mode); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", e.FSType, e.Target, err)
	}
	if err := unix.Mount(e.Source, e.Target, e.FSType, e.Flags, e.Data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", e.FSType, e.Target, err)
	}
	return nil
}

// Table mounts entries in order, skipping those whose target is already a
// mountpoint. It returns the errors of optional entries that failed and
// stops at the first required one that fails.
func Table(entries []Entry) (skipped []error, err error) {
	for _, e := range entries {
		if IsMountPoint(e.Target) {
			continue
		}
		if err := e.Mount(); err != nil {
			if e.Optional {
				skipped = append(skipped, err)
				continue
			}
			return skipped, err
		}
	}
	return skipped, nil
}

// IsMountPoint reports whether path is the root of a mount, judged by its
// device differing from its parent's (enough for the filesystems used
// here, which never bind-mount a directory onto its own filesystem).
func IsMountPoint(path string) bool {
	var st, pst unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return false
	}
	if unix.Lstat(filepath.Join(path, ".."), &pst) != nil {
		return false
	}
	return st.Dev != pst.Dev || st.Ino == pst.Ino
}

// Unmount unmounts target, lazily if it is busy. A target that is not
// mounted is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}
