package jail

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Capability is a Linux capability number.
type Capability int

// The capabilities a jail may keep: what a 9p server needs to act on a
// share's files for the guest's users (docs/adr/0012-qemu-jail.md). Not
// CAP_DAC_READ_SEARCH: with it open_by_handle_at reaches any file of a
// bound file system, outside the jail.
const (
	CapChown       Capability = unix.CAP_CHOWN
	CapDACOverride Capability = unix.CAP_DAC_OVERRIDE
	CapFowner      Capability = unix.CAP_FOWNER
	CapFsetid      Capability = unix.CAP_FSETID
)

var capNames = map[Capability]string{
	CapChown: "CAP_CHOWN", CapDACOverride: "CAP_DAC_OVERRIDE", CapFowner: "CAP_FOWNER", CapFsetid: "CAP_FSETID",
}

func (c Capability) String() string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return fmt.Sprintf("capability %d", int(c))
}

// limitBounding removes every capability but keep from this thread's
// bounding set (needs CAP_SETPCAP, so before the uid change).
func limitBounding(keep []Capability) error {
	kept := map[Capability]bool{}
	for _, c := range keep {
		kept[c] = true
	}
	for c := Capability(0); c <= unix.CAP_LAST_CAP; c++ {
		if kept[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping %s from the bounding set: %w", c, err)
		}
	}
	return nil
}

// setCaps makes caps this thread's effective, permitted, inheritable and
// ambient capabilities (none: an empty set), after the uid change.
func setCaps(caps []Capability) error {
	var data [2]unix.CapUserData
	for _, c := range caps {
		data[c/32].Effective |= 1 << (uint(c) % 32)
	}
	for i := range data {
		data[i].Permitted, data[i].Inheritable = data[i].Effective, data[i].Effective
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	for _, c := range caps {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raising ambient %s: %w", c, err)
		}
	}
	return nil
}
