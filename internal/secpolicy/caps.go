package secpolicy

import (
	"slices"
	"strings"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// allCaps are the capabilities of the guest kernel, in bit order.
var allCaps = protocol.CapabilityNames

// DefaultCaps is Docker's default capability set (moby's
// oci/caps.DefaultCapabilities), in its order.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// AllCaps are every capability of the guest kernel.
func AllCaps() []string { return slices.Clone(allCaps) }

const capAll = "ALL"

// normalize upper-cases names and prefixes "CAP_", as docker does;
// "ALL" stays. An unknown name is InvalidArgument.
func normalize(flag string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		c := strings.ToUpper(strings.TrimSpace(n))
		if c != capAll && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if c != capAll && !slices.Contains(allCaps, c) {
			return nil, errdefs.InvalidArgument("%s: unknown capability %q", flag, n)
		}
		out = append(out, c)
	}
	return out, nil
}

// Caps resolves a container's capabilities as docker's
// TweakCapabilities: privileged takes all; "ALL" in add takes all but
// the dropped; "ALL" in drop takes only the added; else the defaults
// less the dropped plus the added. The result has no duplicates.
func Caps(add, drop []string, privileged bool) ([]string, error) {
	if privileged {
		return AllCaps(), nil
	}
	drops, err := normalize("capDrop", drop)
	if err != nil {
		return nil, err
	}
	adds, err := normalize("capAdd", add)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(adds, capAll):
		for _, c := range allCaps {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drops, capAll):
		caps = adds
	default:
		for _, c := range DefaultCaps {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, adds...)
	}
	var out []string
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
