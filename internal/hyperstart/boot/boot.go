// Package boot performs the setup hyperstart needs as PID 1 of the VM:
// make the initramfs root pivotable, make sure stdio is the console, mount
// the pseudo filesystems, enable cgroup controllers, bring up loopback and
// keep terminating signals from killing the init process.
package boot

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/cgroup"
	"github.com/hyperhq/hyper/internal/hyperstart/mount"
)

// Reroot moves the process onto a bind mount of its initramfs root.
// pivot_root(2) refuses to move the initramfs itself, so without this no
// container could pivot_root out of the VM's tree. It does nothing unless
// / is a ramfs or tmpfs.
func Reroot() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return fmt.Errorf("statfs /: %w", err)
	}
	if st.Type != unix.RAMFS_MAGIC && st.Type != unix.TMPFS_MAGIC {
		return nil
	}
	const dir = "/.hyperstart-root"
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	steps := []struct {
		what string
		fn   func() error
	}{
		{"binding / to " + dir, func() error { return unix.Mount("/", dir, "", unix.MS_BIND|unix.MS_REC, "") }},
		{"entering " + dir, func() error { return unix.Chdir(dir) }},
		{"moving " + dir + " to /", func() error { return unix.Mount(dir, "/", "", unix.MS_MOVE, "") }},
		{"chroot", func() error { return unix.Chroot(".") }},
		{"chdir /", func() error { return unix.Chdir("/") }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	os.Remove(dir)
	return nil
}

// Console makes sure fds 0, 1 and 2 are open, on /dev/console if they
// are not (mounting devtmpfs on /dev for it if needed).
func Console() error {
	missing := false
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	if _, err := os.Stat("/dev/console"); err != nil {
		e := mount.Entry{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755"}
		if !mount.IsMountPoint(e.Target) {
			if err := e.Mount(); err != nil {
				return err
			}
		}
	}
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/console: %w", err)
	}
	for i := 0; i <= 2; i++ {
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); err != nil && i != fd {
			unix.Dup3(fd, i, 0)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

// Mounts mounts the table, logging the optional entries that failed.
func Mounts(table []mount.Entry) error {
	skipped, err := mount.Table(table)
	for _, e := range skipped {
		slog.Warn("optional mount failed", "err", e)
	}
	return err
}

// Cgroups enables every available controller for the children of the
// root cgroup and of parent (created if needed), so that containers'
// cgroups below parent get them all.
func Cgroups(parent string) error {
	for _, dir := range []string{cgroup.Root, parent} {
		if dir != cgroup.Root {
			if _, err := cgroup.Create(dir); err != nil {
				return err
			}
		}
		enabled, err := cgroup.EnableControllers(dir)
		if err != nil {
			return err
		}
		slog.Debug("cgroup controllers", "dir", dir, "enabled", enabled)
	}
	return nil
}

// LoopbackUp sets the IFF_UP flag of interface lo.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("setting flags of lo: %w", err)
	}
	return nil
}

// HoldSignals keeps terminating signals from ending PID 1 (the kernel
// panics when init exits). They are caught, not ignored: ignored signals
// would stay ignored in every process hyperstart starts.
func HoldSignals() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGPIPE, unix.SIGALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
		unix.SIGPWR, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM)
	go func() {
		for s := range sigs {
			slog.Debug("ignoring signal", "signal", s)
		}
	}()
}
