package spawn

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/mount"
)

const (
	nsflags  = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	devflags = unix.MS_NOSUID | unix.MS_STRICTATIME
)

// containerMounts are made inside the container after pivot_root, so that
// every path resolves inside the container's own tree, symlinks included.
// /sys is read-only unless the container is privileged.
var containerMounts = []mount.Entry{
	{Source: "proc", Target: "/proc", FSType: "proc", Flags: nsflags},
	{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: nsflags | unix.MS_RDONLY, Optional: true},
	{Source: "tmpfs", Target: "/dev", FSType: "tmpfs", Flags: devflags, Data: "mode=755,size=65536k"},
	{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC,
		Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	{Source: "shm", Target: "/dev/shm", FSType: "tmpfs", Flags: nsflags, Data: "mode=1777,size=65536k"},
	{Source: "mqueue", Target: "/dev/mqueue", FSType: "mqueue", Flags: nsflags, Optional: true},
}

type devNode struct {
	name         string
	major, minor uint32
}

var devNodes = []devNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"pts/ptmx", "/dev/ptmx"},
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
}

// setupRootfs makes rootfs the root of the calling thread, which must be
// alone in a new mount namespace, and mounts /proc, /sys, /dev and the
// pod's files inside it; conf.Privileged gives /sys read-write and the
// VM's devices. /proc is a copy of the proc
// mount proc if set (a proc of the pod's PID namespace), else a new one
// (of the caller's PID namespace).
func setupRootfs(rootfs, proc string, podFiles map[string]string, conf *Confinement) error {
	// Never pivot the mount namespace of the system: /proc here is the
	// VM's, and its PID 1 (hyperstart, or a host's init if this was
	// started by hand) is in that namespace.
	var self, sys unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/mnt", &self); err != nil {
		return fmt.Errorf("checking mount namespace: %w", err)
	}
	if err := unix.Stat("/proc/1/ns/mnt", &sys); err != nil {
		return fmt.Errorf("checking mount namespace of PID 1: %w", err)
	}
	if self.Ino == sys.Ino && self.Dev == sys.Dev {
		return errors.New("not in a new mount namespace")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / rprivate: %w", err)
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding rootfs %s: %w", rootfs, err)
	}
	// Detached copies of the pod's files, attached after pivot_root.
	trees := map[string]int{}
	defer func() {
		for _, fd := range trees {
			unix.Close(fd)
		}
	}()
	procFD := -1
	if proc != "" {
		fd, err := unix.OpenTree(unix.AT_FDCWD, proc, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fmt.Errorf("cloning the pod's proc mount %s: %w", proc, err)
		}
		procFD = fd
		defer unix.Close(fd)
	}
	for name, src := range podFiles {
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fmt.Errorf("cloning mount of %s: %w", src, err)
		}
		trees[name] = fd
	}
	var devs []device
	if conf.Privileged {
		var err error
		if devs, err = vmDevices("/dev"); err != nil {
			return err
		}
	}
	if err := pivot(rootfs); err != nil {
		return err
	}
	for _, e := range containerMounts {
		if e.FSType == "sysfs" && conf.Privileged {
			e.Flags &^= unix.MS_RDONLY
		}
		if e.Target == "/dev/shm" && conf.ShmSizeMB > 0 {
			e.Data = fmt.Sprintf("mode=1777,size=%dm", conf.ShmSizeMB)
		}
		if e.FSType == "proc" && procFD >= 0 {
			if err := attachTree(procFD, e.Target, true); err != nil {
				return fmt.Errorf("mounting the pod's proc: %w", err)
			}
			continue
		}
		if err := e.Mount(); err != nil {
			if e.Optional {
				continue
			}
			return err
		}
	}
	if err := populateDev(); err != nil {
		return err
	}
	if err := addDevices(devs); err != nil {
		return err
	}
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := attachPodFile(trees[n], filepath.Join("/etc", n)); err != nil {
			slog.Debug("skipping pod file", "file", n, "err", err)
		}
	}
	return nil
}

// pivot makes rootfs the root and detaches the old one. If pivot_root is
// refused (the old root is the initramfs), it falls back to moving the
// rootfs onto / and chrooting, as switch_root does.
func pivot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("entering rootfs %s: %w", rootfs, err)
	}
	err := unix.PivotRoot(".", ".")
	switch {
	case err == nil:
		if err := unix.Mount("", ".", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making old root private: %w", err)
		}
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detaching old root: %w", err)
		}
	case errors.Is(err, unix.EINVAL):
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving rootfs to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot to rootfs: %w", err)
		}
	default:
		return fmt.Errorf("pivot_root to %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to new root: %w", err)
	}
	return nil
}

func populateDev() error {
	for _, n := range devNodes {
		p := "/dev/" + n.name
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor))); err != nil {
			return fmt.Errorf("creating %s: %w", p, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[0], l[1]); err != nil {
			return fmt.Errorf("creating %s: %w", l[1], err)
		}
	}
	return nil
}

// attachPodFile mounts the detached tree fd on target, creating an empty
// target file (and /etc) if missing and the root is writable.
func attachPodFile(fd int, target string) error {
	return attachTree(fd, target, false)
}
