package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// run builds the jail and executes the program; it returns only on
// failure. Capabilities, securebits and no_new_privs are per thread: all
// of it happens on this locked thread, which executes the program.
func run(spec Spec) error {
	runtime.LockOSThread()
	// Before anything is mounted: a program that could not be placed in
	// its cgroup does not start.
	if spec.Cgroup != nil {
		if err := joinCgroup(spec.ID, *spec.Cgroup); err != nil {
			return err
		}
	}
	if err := buildRoot(spec); err != nil {
		return fmt.Errorf("building the jail of %s: %w", spec.ID, err)
	}
	if err := pivot(spec.Root); err != nil {
		return fmt.Errorf("entering the jail of %s: %w", spec.ID, err)
	}
	if err := dropPrivileges(spec.User, spec.AmbientCaps); err != nil {
		return fmt.Errorf("jail %s: %w", spec.ID, err)
	}
	argv := append([]string{spec.Program}, spec.Args...)
	err := unix.Exec(spec.Program, argv, []string{"PATH=/usr/bin:/bin"})
	return fmt.Errorf("executing %s: %w", spec.Program, err)
}

// buildRoot mounts a tmpfs on spec.Root and fills it.
func buildRoot(spec Spec) error {
	root := spec.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"); err != nil {
		return fmt.Errorf("mounting the root tmpfs on %s: %w", root, err)
	}
	for _, p := range SystemBinds {
		if err := bindSystem(root, p); err != nil {
			return err
		}
	}
	for _, b := range spec.Binds {
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV)
		if !b.Writable {
			flags |= unix.MS_RDONLY
		}
		if err := bind(root, b.Path, b.Path, b.Recursive, flags); err != nil {
			return err
		}
	}
	for _, d := range spec.Devices {
		if err := bind(root, d, d, false, unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
			return err
		}
	}
	return mountProc(filepath.Join(root, "proc"))
}

// mountProc mounts the PID namespace's proc: the program's own processes
// only, and (subset=pid) none of the kernel's files. QEMU's 9p server
// needs /proc/self/fd.
func mountProc(dir string) error {
	if err := os.Mkdir(dir, 0o555); err != nil {
		return err
	}
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	err := unix.Mount("proc", dir, "proc", flags, "subset=pid")
	if errors.Is(err, unix.EINVAL) { // before Linux 5.8
		err = unix.Mount("proc", dir, "proc", flags, "")
	}
	if err != nil {
		return fmt.Errorf("mounting proc: %w", err)
	}
	return nil
}

// bindSystem binds a system directory read-only, or recreates it as the
// symlink it is; a missing one is skipped.
func bindSystem(root, p string) error {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	return bind(root, p, p, true, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
}

// bind mounts host path src at dst inside root with flags (MS_RDONLY,
// MS_NOSUID...), which a bind takes only on a remount.
func bind(root, src, dst string, recursive bool, flags uintptr) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	target := filepath.Join(root, dst)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if fi.IsDir() {
		err = os.Mkdir(target, 0o755)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("bind target: %w", err)
	}
	mf := uintptr(unix.MS_BIND)
	if recursive {
		mf |= unix.MS_REC
	}
	if err := unix.Mount(src, target, "", mf, ""); err != nil {
		return fmt.Errorf("binding %s: %w", src, err)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remounting the bind of %s: %w", src, err)
	}
	return nil
}

// pivot makes root the root of the mount namespace and detaches the old
// one, which leaves nothing of the host reachable; the new root becomes
// read-only.
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// Stacks the old root on the new one; unmounting "." then removes it.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return nil
}

// secbitKeepCaps is SECBIT_KEEP_CAPS (linux/securebits.h).
const secbitKeepCaps = 1 << 4

// dropPrivileges switches to user, keeping only caps (ambient, so that
// they survive the exec) and nothing in the bounding set beyond them, and
// sets no_new_privs.
func dropPrivileges(user Identity, caps []Capability) error {
	if err := limitBounding(caps); err != nil {
		return err
	}
	if len(caps) > 0 {
		// Keep the permitted set across the uid change.
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, secbitKeepCaps, 0, 0, 0); err != nil {
			return fmt.Errorf("securebits: %w", err)
		}
	}
	if err := syscall.Setgroups(user.Groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(user.GID, user.GID, user.GID); err != nil {
		return fmt.Errorf("setresgid %d: %w", user.GID, err)
	}
	if err := syscall.Setresuid(user.UID, user.UID, user.UID); err != nil {
		return fmt.Errorf("setresuid %d: %w", user.UID, err)
	}
	if err := setCaps(caps); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return nil
}
