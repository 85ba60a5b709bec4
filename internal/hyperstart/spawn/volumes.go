package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Volume is a directory or file of the guest bound into a container at
// Target (Init only). Its source is prepared by the agent: a volume disk,
// an entry of the pod's 9p share, or a pod scratch directory.
type Volume struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// volumeTree is a detached copy of a volume's source, made before
// pivot_root (the sources are outside the container's root) and attached
// after it, so that the target resolves inside the container's own tree,
// symlinks included.
type volumeTree struct {
	fd  int
	dir bool
	Volume
}

// cloneVolumes makes detached, read-only where asked, copies of the
// volumes' sources, parents before children.
func cloneVolumes(vols []Volume) (trees []volumeTree, err error) {
	defer func() {
		if err != nil {
			closeTrees(trees)
			trees = nil
		}
	}()
	sorted := append([]Volume(nil), vols...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.Count(filepath.Clean(sorted[i].Target), "/") < strings.Count(filepath.Clean(sorted[j].Target), "/")
	})
	for _, v := range sorted {
		fd, err := unix.OpenTree(unix.AT_FDCWD, v.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return trees, fmt.Errorf("volume at %s: cloning mount of %s: %w", v.Target, v.Source, err)
		}
		t := volumeTree{fd: fd, Volume: v}
		trees = append(trees, t)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return trees, fmt.Errorf("volume at %s: %w", v.Target, err)
		}
		trees[len(trees)-1].dir = st.Mode&unix.S_IFMT == unix.S_IFDIR
		if v.ReadOnly {
			attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
			if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
				return trees, fmt.Errorf("volume at %s: making it read-only: %w", v.Target, err)
			}
		}
	}
	return trees, nil
}

// attachVolumes mounts the trees at their targets, inside the container's
// root (the caller's root by now), creating the mount points; it closes
// the trees.
func attachVolumes(trees []volumeTree) error {
	defer closeTrees(trees)
	for _, t := range trees {
		if err := attachTree(t.fd, t.Target, t.dir); err != nil {
			return fmt.Errorf("volume at %s: %w", t.Target, err)
		}
	}
	return nil
}

// attachTree mounts the detached tree fd on target, creating the mount
// point (a directory if dir, else an empty file) unless it exists.
func attachTree(fd int, target string, dir bool) error {
	if err := mountPoint(target, dir); err != nil {
		return fmt.Errorf("creating the mount point: %w", err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target,
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_SYMLINKS); err != nil {
		return fmt.Errorf("mounting on %s: %w", target, err)
	}
	return nil
}

// mountPoint creates target (a directory, or an empty file for a file
// volume) unless it exists.
func mountPoint(target string, dir bool) error {
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if dir {
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func closeTrees(trees []volumeTree) {
	for _, t := range trees {
		unix.Close(t.fd)
	}
}
