package security

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
)

// The Landlock domain of an isolated process restricts no file access a
// container has a use for: its point is the domain itself, whose ptrace
// hook denies access to any process outside the domain and its
// descendants (/proc/PID/root, fd, environ, mem; ptrace). Creating
// device nodes is denied (the guest has no device cgroup: a node of an
// image or volume disk would reach every container's data), and file
// reparenting (rename, link across directories), which a Landlock domain
// denies unless handled, is allowed everywhere beneath the container's
// root. A domain also refuses mount(2) and its kin, which an isolated
// process (no CAP_SYS_ADMIN) cannot do anyway.
const (
	landlockHandled = unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_REFER
	landlockAllowed = unix.LANDLOCK_ACCESS_FS_REFER
)

// minLandlockABI is the first ABI with LANDLOCK_ACCESS_FS_REFER (5.19).
const minLandlockABI = 2

// LandlockABI returns the kernel's Landlock ABI version, 0 if it has none
// (not built or not in the LSM list).
func LandlockABI() int {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		return 0
	}
	return int(v)
}

// Isolating reports whether the kernel can give processes the Landlock
// domains that keep containers apart; without, an isolated process runs
// without one.
func Isolating() bool { return LandlockABI() >= minLandlockABI }

// errNoLandlock is returned when the kernel cannot isolate processes.
var errNoLandlock = errors.New("the kernel has no Landlock ABI >= 2")

// EnterDomain puts the calling thread in a new Landlock domain (see
// landlockHandled), if the kernel has Landlock. The caller's root is the
// container's. It needs no_new_privs or CAP_SYS_ADMIN.
func EnterDomain() error {
	if err := restrictLandlock(); err != nil && err != errNoLandlock {
		return errs.Internal("%w", err)
	}
	return nil
}

func restrictLandlock() error {
	if !Isolating() {
		return errNoLandlock
	}
	attr := unix.LandlockRulesetAttr{Handled_access_fs: landlockHandled}
	rfd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return fmt.Errorf("creating landlock ruleset: %w", e)
	}
	defer unix.Close(int(rfd))
	root, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("opening the root for landlock: %w", err)
	}
	defer unix.Close(root)
	rule := unix.LandlockPathBeneathAttr{Allowed_access: landlockAllowed, Parent_fd: int32(root)}
	if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, rfd, unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		return fmt.Errorf("adding landlock rule: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rfd, 0, 0); e != 0 {
		return fmt.Errorf("entering landlock domain: %w", e)
	}
	return nil
}
