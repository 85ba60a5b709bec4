// Package netcfg configures the guest's network interfaces: find a NIC by
// its MAC address, set its MTU and IPv4 address, bring it up and add the
// default route. It uses plain ioctls and one RTNETLINK request (x/sys
// only), to keep hyperstart small.
package netcfg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Interface is the configuration of one NIC.
type Interface struct {
	MAC     net.HardwareAddr
	Address netip.Prefix // IPv4
	Gateway netip.Addr   // IPv4, or invalid for none
	MTU     int          // 0: leave the driver's
}

// Parse checks and converts the wire form of an interface.
func Parse(mac, address, gateway string, mtu int) (Interface, error) {
	var i Interface
	var err error
	if i.MAC, err = net.ParseMAC(mac); err != nil || len(i.MAC) != 6 {
		return i, fmt.Errorf("invalid MAC address %q", mac)
	}
	if i.Address, err = netip.ParsePrefix(address); err != nil || !i.Address.Addr().Is4() {
		return i, fmt.Errorf("invalid IPv4 address %q (want a.b.c.d/len)", address)
	}
	if gateway != "" {
		if i.Gateway, err = netip.ParseAddr(gateway); err != nil || !i.Gateway.Is4() {
			return i, fmt.Errorf("invalid IPv4 gateway %q", gateway)
		}
		if !i.Address.Masked().Contains(i.Gateway) {
			return i, fmt.Errorf("gateway %s is not on the interface's network %s", gateway, i.Address.Masked())
		}
	}
	if mtu != 0 && (mtu < 68 || mtu > 65535) {
		return i, fmt.Errorf("invalid MTU %d", mtu)
	}
	i.MTU = mtu
	return i, nil
}

// FindByMAC returns the name of the interface with that MAC, waiting up
// to timeout for its driver to register it.
func FindByMAC(mac net.HardwareAddr, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		ifs, err := net.Interfaces()
		if err != nil {
			return "", fmt.Errorf("listing interfaces: %w", err)
		}
		for _, i := range ifs {
			if strings.EqualFold(i.HardwareAddr.String(), mac.String()) {
				return i.Name, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no network interface with MAC %s", mac)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Configure sets up the interface: MTU, address, up, default route.
func Configure(i Interface, timeout time.Duration) (string, error) {
	name, err := FindByMAC(i.MAC, timeout)
	if err != nil {
		return "", err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return name, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr := func() *unix.Ifreq {
		r, _ := unix.NewIfreq(name) // name came from the kernel: valid
		return r
	}
	if i.MTU != 0 {
		r := ifr()
		r.SetUint32(uint32(i.MTU))
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFMTU, r); err != nil {
			return name, fmt.Errorf("%s: setting MTU %d: %w", name, i.MTU, err)
		}
	}
	r := ifr()
	if err := r.SetInet4Addr(i.Address.Addr().AsSlice()); err != nil {
		return name, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, r); err != nil {
		return name, fmt.Errorf("%s: setting address %s: %w", name, i.Address, err)
	}
	mask := net.CIDRMask(i.Address.Bits(), 32)
	r = ifr()
	if err := r.SetInet4Addr(mask); err != nil {
		return name, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, r); err != nil {
		return name, fmt.Errorf("%s: setting netmask /%d: %w", name, i.Address.Bits(), err)
	}
	// Announce the address when the link comes up (a gratuitous ARP): a
	// VM restored from a template has a new MAC, and its network peer
	// (slirp's ARP table, a bridge) may still hold the template's.
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+name+"/arp_notify", []byte("1"), 0); err != nil {
		return name, fmt.Errorf("%s: arp_notify: %w", name, err)
	}
	r = ifr()
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, r); err != nil {
		return name, fmt.Errorf("%s: reading flags: %w", name, err)
	}
	r.SetUint16(r.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, r); err != nil {
		return name, fmt.Errorf("%s: bringing up: %w", name, err)
	}
	if i.Gateway.IsValid() {
		iface, err := net.InterfaceByName(name)
		if err != nil {
			return name, err
		}
		if err := addDefaultRoute(i.Gateway, iface.Index); err != nil {
			return name, fmt.Errorf("%s: default route via %s: %w", name, i.Gateway, err)
		}
	}
	return name, nil
}

// routeMessage is an RTM_NEWROUTE request for 0.0.0.0/0 via gw on the
// interface with index oif.
func routeMessage(gw netip.Addr, oif int, seq uint32) []byte {
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr, unix.SizeofRtAttr+len(data)+3)
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	g := gw.As4()
	idx := make([]byte, 4)
	binary.NativeEndian.PutUint32(idx, uint32(oif))
	body := []byte{
		unix.AF_INET, 0, 0, 0, // family, dst_len, src_len, tos
		unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST,
		0, 0, 0, 0, // flags
	}
	body = append(body, attr(unix.RTA_GATEWAY, g[:])...)
	body = append(body, attr(unix.RTA_OIF, idx)...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	return append(msg, body...)
}

// addDefaultRoute adds the default route; one already there is fine.
func addDefaultRoute(gw netip.Addr, oif int) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink bind: %w", err)
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	const seq = 1
	if err := unix.Sendto(fd, routeMessage(gw, oif, seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return errors.New("netlink: short error message")
			}
			errno := -int32(binary.NativeEndian.Uint32(m.Data))
			if errno == 0 || unix.Errno(errno) == unix.EEXIST {
				return nil
			}
			return unix.Errno(errno)
		}
	}
}

// SetMAC gives the interface that has MAC from the address to (a VM
// restored from a template has the template's MACs).
func SetMAC(from, to net.HardwareAddr) error {
	name, err := FindByMAC(from, 0)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	// struct ifreq with ifr_hwaddr: name, then a sockaddr (family, data).
	var req struct {
		name   [unix.IFNAMSIZ]byte
		family uint16
		data   [14]byte
		_      [8]byte
	}
	copy(req.name[:], name)
	req.family = unix.ARPHRD_ETHER
	copy(req.data[:], to)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCSIFHWADDR, uintptr(unsafe.Pointer(&req))); e != 0 {
		return fmt.Errorf("%s: setting MAC %s: %w", name, to, e)
	}
	return nil
}
