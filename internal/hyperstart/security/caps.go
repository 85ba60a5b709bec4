package security

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// capNames numbers the guest kernel's capabilities by OCI name.
var capNames = func() map[string]uint {
	m := make(map[string]uint, len(protocol.CapabilityNames))
	for c, n := range protocol.CapabilityNames {
		m[n] = uint(c)
	}
	return m
}()

// lastCap is the highest capability number the guest kernel knows.
const lastCap = unix.CAP_CHECKPOINT_RESTORE

// CapSet is a set of capabilities, bit n for capability n, as in
// /proc/PID/status (CapEff etc.).
type CapSet uint64

// Has reports whether c is in the set.
func (s CapSet) Has(c uint) bool { return s&(1<<c) != 0 }

// String lists the set's names, lowest number first.
func (s CapSet) String() string {
	var names []string
	for c, n := range protocol.CapabilityNames {
		if s.Has(uint(c)) {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// CapByName returns a capability's number by its OCI name ("CAP_CHOWN").
func CapByName(name string) (uint, bool) {
	c, ok := capNames[name]
	return c, ok
}

// ParseCapSet turns names into a set; an unknown name is invalid.
func ParseCapSet(set string, names []string) (CapSet, error) {
	var s CapSet
	for _, n := range names {
		c, ok := capNames[n]
		if !ok {
			return 0, errs.Invalid("%s capabilities: unknown capability %q", set, n)
		}
		s |= 1 << c
	}
	return s, nil
}

// allCaps is every capability.
const allCaps = CapSet(1<<(lastCap+1) - 1)

// Caps are a process's five capability sets.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient CapSet
}

// ParseCaps checks and converts the protocol's capability names. The
// kernel's rules are checked here so that a bad request fails before
// anything runs: effective within permitted, inheritable within the
// bounding set (which is dropped first), ambient within permitted and
// inheritable.
func ParseCaps(pc *protocol.Capabilities) (Caps, error) {
	var c Caps
	for _, s := range []struct {
		name  string
		names []string
		dst   *CapSet
	}{
		{"bounding", pc.Bounding, &c.Bounding},
		{"effective", pc.Effective, &c.Effective},
		{"permitted", pc.Permitted, &c.Permitted},
		{"inheritable", pc.Inheritable, &c.Inheritable},
		{"ambient", pc.Ambient, &c.Ambient},
	} {
		set, err := ParseCapSet(s.name, s.names)
		if err != nil {
			return Caps{}, err
		}
		*s.dst = set
	}
	if extra := c.Effective &^ c.Permitted; extra != 0 {
		return Caps{}, errs.Invalid("effective capabilities %s are not permitted", extra)
	}
	if extra := c.Inheritable &^ c.Bounding; extra != 0 {
		return Caps{}, errs.Invalid("inheritable capabilities %s are not in the bounding set", extra)
	}
	if extra := c.Ambient &^ (c.Permitted & c.Inheritable); extra != 0 {
		return Caps{}, errs.Invalid("ambient capabilities %s are not both permitted and inheritable", extra)
	}
	return c, nil
}

// full reports whether c are hyperstart's own sets (every
// capability but no inheritable or ambient one), which a process started
// without capabilities in its spec ends up with too, whatever its user.
func (c *Caps) full() bool {
	return *c == Caps{Bounding: allCaps, Effective: allCaps, Permitted: allCaps}
}

// dropBounding drops every capability outside the bounding set from the
// calling thread's bounding set (needs CAP_SETPCAP).
func (c *Caps) dropBounding() error {
	for n := uint(0); n <= lastCap; n++ {
		if c.Bounding.Has(n) {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			return nil // an older kernel: it has no capability n nor above
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d from the bounding set: %w", n, err)
		}
	}
	return nil
}

// keepCaps sets or clears PR_SET_KEEPCAPS on the calling thread: with it, a
// change of uid away from 0 keeps the permitted set.
func keepCaps(on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, v, 0, 0, 0); err != nil {
		return fmt.Errorf("setting keep-caps: %w", err)
	}
	return nil
}

// set gives the calling thread its effective, permitted and inheritable
// sets, then its ambient set.
func (c *Caps) set() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i, s := range []CapSet{c.Effective, c.Permitted, c.Inheritable} {
		for w := range data {
			v := uint32(uint64(s) >> (32 * w))
			switch i {
			case 0:
				data[w].Effective = v
			case 1:
				data[w].Permitted = v
			case 2:
				data[w].Inheritable = v
			}
		}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	for s := uint64(c.Ambient); s != 0; s &= s - 1 {
		n := uint(bits.TrailingZeros64(s))
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("raising ambient capability %d: %w", n, err)
		}
	}
	return nil
}
