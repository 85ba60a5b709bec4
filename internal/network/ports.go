package network

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Port is one published port: HostIP:HostPort on the host to GuestPort
// of the pod. An unspecified HostIP (0.0.0.0) means every local address.
type Port struct {
	Proto     string // "tcp" or "udp"
	HostIP    netip.Addr
	HostPort  uint16
	GuestPort uint16
}

// Reserve binds every host port and holds it until the closers are
// closed: a port in use is a Conflict naming it, and nothing stays bound
// on error. In bridge mode the held sockets keep other programs (and
// other pods) off the ports the pod's DNAT rules take; they never see a
// packet, as DNAT comes first.
func Reserve(ports []Port) ([]io.Closer, error) {
	var held []io.Closer
	for _, p := range ports {
		ip := p.HostIP
		if !ip.IsValid() {
			ip = netip.IPv4Unspecified()
		}
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(p.HostPort)))
		var c io.Closer
		var err error
		if p.Proto == "udp" {
			c, err = net.ListenPacket("udp4", addr)
		} else {
			c, err = net.Listen("tcp4", addr)
		}
		if err != nil {
			closeAll(held)
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, errdefs.Conflict("cannot publish %d/%s: host port %s is already in use", p.GuestPort, p.Proto, addr)
			}
			return nil, errdefs.InvalidArgument("cannot publish %d/%s on %s: %w", p.GuestPort, p.Proto, addr, err)
		}
		held = append(held, c)
	}
	return held, nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}
