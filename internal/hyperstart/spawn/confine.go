package spawn

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// confine masks and protects the paths conf lists, once every mount of
// the container is in place.
func confine(conf *Confinement) error {
	if err := maskPaths(conf.MaskedPaths); err != nil {
		return err
	}
	return readonlyPaths(conf.ReadonlyPaths)
}

// maskPaths hides each path: /dev/null bound over a file, an empty
// read-only tmpfs over a directory. Missing paths are skipped. The
// caller's root is the container's, whose /dev/null exists.
func maskPaths(paths []string) error {
	for _, p := range paths {
		var st unix.Stat_t
		err := unix.Stat(p, &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue
		case err != nil:
			return fmt.Errorf("masking %s: %w", p, err)
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|nsflags, "")
		default:
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths binds each path read-only onto itself, with the mounts
// beneath it. Missing paths are skipped.
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("binding %s read-only: %w", p, err)
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	return nil
}

// device is a device node of the VM, by path under /dev.
type device struct {
	path string
	mode uint32
	rdev uint64
}

// vmDevices lists the VM's device nodes under dir (its /dev), except
// those of devpts and of the standard set every container gets.
func vmDevices(dir string) ([]device, error) {
	std := map[string]bool{}
	for _, n := range devNodes {
		std[n.name] = true
	}
	var devs []device
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && (rel == "pts" || rel == "shm" || rel == "mqueue") {
			return filepath.SkipDir
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 || std[rel] {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		devs = append(devs, device{path: rel, mode: st.Mode, rdev: st.Rdev})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the VM's devices: %w", err)
	}
	return devs, nil
}

// addDevices creates devs in the container's /dev, but for the names it
// has already (such as ptmx, a link to its devpts').
func addDevices(devs []device) error {
	for _, d := range devs {
		p := filepath.Join("/dev", d.path)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		if err := unix.Mknod(p, d.mode, int(d.rdev)); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		if err := unix.Chmod(p, d.mode&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	return nil
}
