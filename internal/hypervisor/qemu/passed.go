package qemu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/jail"
)

// vhostVsock is the host's vsock device (the vsock transport).
const vhostVsock = "/dev/vhost-vsock"

// jailDir is the directory under the state dir on which a jailed QEMU's
// root is mounted (in its mount namespace only: it looks empty outside).
const jailDir = "jail"

// openPassed opens the files QEMU inherits, in order; on error the
// returned ones are still to be closed.
func openPassed(ps []passed) ([]*os.File, error) {
	var files []*os.File
	for _, p := range ps {
		var f *os.File
		var err error
		switch p.kind {
		case passFile:
			f, err = os.OpenFile(p.path, p.flag|unix.O_NOCTTY, 0o600)
		case passSocket:
			f, err = listenUnix(p.path)
		case passTap:
			f, err = openTap(p.path)
		default:
			err = fmt.Errorf("passed file of kind %d", p.kind)
		}
		if err != nil {
			return files, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// listenUnix binds a listening socket at path (replacing a stale one) and
// returns its descriptor: QEMU accepts on it; the path stays reachable
// from the host's mount namespace, also by a restarted daemon.
func listenUnix(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	l.SetUnlinkOnClose(false)
	defer l.Close()
	return l.File()
}

// openTap attaches to the persistent tap called name (the network
// package creates it with these flags).
func openTap(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attaching tap %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tap "+name), nil
}

// shareCaps are what QEMU's 9p server keeps in a jail for a VM with
// shares: acting on the share's files for the guest's users, as root did
// (docs/adr/0012-qemu-jail.md).
var shareCaps = []jail.Capability{jail.CapChown, jail.CapDACOverride, jail.CapFowner, jail.CapFsetid}

// jailDevices are the device nodes every jail has.
var jailDevices = []string{"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"}

// jailSpec is the jail of the VM's QEMU: its boot files read-only, its
// shares (as shared) and template memory file read-write; everything else
// comes as a descriptor.
func (v *vm) jailSpec() (jail.Spec, error) {
	bin, err := exec.LookPath(v.binary)
	if err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		return jail.Spec{}, fmt.Errorf("qemu binary: %w", err)
	}
	root := filepath.Join(v.spec.StateDir, jailDir)
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return jail.Spec{}, err
	}
	s := jail.Spec{
		ID: v.spec.ID, Root: root, Program: bin, Args: v.line.args, User: v.jail.User,
		Devices: jailDevices,
	}
	if v.jail.Cgroup {
		// Unique: two daemons' template builders share the VM's id.
		s.ID = fmt.Sprintf("%s-%08x", v.spec.ID, rand.Uint32())
		v.cgroup = s.ID
		s.Cgroup = &jail.Limits{MemoryBytes: int64(v.spec.MemoryMB+v.jail.MemoryOverheadMB) << 20, Pids: v.jail.Pids}
	}
	if len(v.spec.Shares) > 0 {
		s.AmbientCaps = shareCaps
	}
	for _, p := range []string{bin, v.spec.Kernel.Path, v.spec.Kernel.Initrd} {
		if p == "" {
			continue
		}
		// QEMU opens them by path (7.2 takes no descriptor for them).
		if err := mayOpen(v.jail.User, p, 0o4); err != nil && !slices.Contains(s.AmbientCaps, jail.CapDACOverride) {
			return jail.Spec{}, err
		}
		if !underSystem(p) {
			s.Binds = append(s.Binds, jail.Bind{Path: filepath.Clean(p)})
		}
	}
	for _, sh := range v.spec.Shares {
		s.Binds = append(s.Binds, jail.Bind{Path: filepath.Clean(sh.Path), Writable: !sh.ReadOnly, Recursive: true})
	}
	if v.memoryFile != "" {
		s.Binds = append(s.Binds, jail.Bind{Path: v.memoryFile, Writable: true})
	}
	if v.spec.Accel.Kind == hypervisor.AccelKVM {
		if err := mayOpen(v.jail.User, "/dev/kvm", 0o6); err != nil {
			return jail.Spec{}, err
		}
		s.Devices = append(s.Devices, "/dev/kvm")
	}
	return s, nil
}

// mayOpen tells, by the file's mode, whether u may open p for perm (0o4
// read, 0o6 read-write) — a clear error at start instead of QEMU's in
// its log. Directories on the way do not matter: the jail's own are open.
func mayOpen(u jail.Identity, p string, perm uint32) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	switch {
	case int(st.Uid) == u.UID && st.Mode>>6&perm == perm,
		(int(st.Gid) == u.GID || slices.Contains(u.Groups, int(st.Gid))) && st.Mode>>3&perm == perm,
		st.Mode&perm == perm:
		return nil
	}
	return errdefs.Unavailable("jail user %s may not open %s (uid %d, gid %d, mode %o): make it readable (make install: 0644), add the user to its group (hack/install-deps.sh: kvm for /dev/kvm), or [jail] enabled = false",
		u.Name, p, st.Uid, st.Gid, st.Mode&0o777)
}

// underSystem tells whether p is inside a directory every jail has.
func underSystem(p string) bool {
	for _, d := range jail.SystemBinds {
		if rel, err := filepath.Rel(d, p); err == nil && filepath.IsLocal(rel) {
			return true
		}
	}
	return false
}
