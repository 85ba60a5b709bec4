package network

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tapPrefix starts the name of every pod's tap: "hyt" + 12 hex digits of
// the pod ID (15 characters, the kernel's limit).
const tapPrefix = "hyt"

// TapName is the name of pod's tap device.
func TapName(pod string) string { return tapPrefix + short(pod) }

// ensureBridge creates the bridge with the gateway's address if it does
// not exist, and brings it up. An existing bridge is reused: its address
// is added if missing.
func ensureBridge(name string, gw netip.Prefix, mtu int) (netlink.Link, error) {
	br, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		la := netlink.NewLinkAttrs()
		// A fixed MAC: a bridge takes its ports' lowest otherwise, and
		// would change it (and pods' neighbour entries) as taps come and go.
		h := sha256.Sum256([]byte("hyper bridge " + name))
		la.Name, la.MTU, la.HardwareAddr = name, mtu, net.HardwareAddr{0x02, h[0], h[1], h[2], h[3], h[4]}
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return nil, fmt.Errorf("creating bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	case br.Type() != "bridge":
		return nil, fmt.Errorf("%s exists and is a %s, not a bridge", name, br.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.Addr().AsSlice(), Mask: net.CIDRMask(gw.Bits(), 32)}}
	if err := netlink.AddrAdd(br, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("adding %s to bridge %s: %w", gw, name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("bringing up bridge %s: %w", name, err)
	}
	// Pods' outbound traffic is routed by the host; traffic a host
	// process sends to 127.0.0.1:PORT of a published port is DNATed to
	// the pod and must be allowed out of the bridge with its loopback
	// source (then masqueraded), as docker does.
	for _, s := range []struct{ path, val string }{
		{"net/ipv4/ip_forward", "1"},
		{filepath.Join("net/ipv4/conf", name, "route_localnet"), "1"},
	} {
		if err := os.WriteFile(filepath.Join("/proc/sys", s.path), []byte(s.val), 0o644); err != nil {
			return nil, fmt.Errorf("sysctl %s: %w", s.path, err)
		}
	}
	return br, nil
}

// addTap creates pod's persistent tap, attached to br and up; QEMU opens
// it by name.
func addTap(pod string, br netlink.Link) (string, error) {
	name := TapName(pod)
	delTap(name) // a leftover of a crashed run
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = name, br.Attrs().MTU
	tap := &netlink.Tuntap{LinkAttrs: la, Mode: netlink.TUNTAP_MODE_TAP,
		Flags: netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE}
	if err := netlink.LinkAdd(tap); err != nil {
		return "", fmt.Errorf("creating tap %s: %w", name, err)
	}
	for _, f := range tap.Fds { // persistent: the device outlives our descriptor
		f.Close()
	}
	if err := netlink.LinkSetMaster(tap, br); err != nil {
		delTap(name)
		return "", fmt.Errorf("attaching tap %s to %s: %w", name, br.Attrs().Name, err)
	}
	if err := netlink.LinkSetUp(tap); err != nil {
		delTap(name)
		return "", fmt.Errorf("bringing up tap %s: %w", name, err)
	}
	return name, nil
}

// delTap deletes a tap; one that does not exist is not an error.
func delTap(name string) error {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tap %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("deleting tap %s: %w", name, err)
	}
	return nil
}
