package daemon

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/network"
	"github.com/hyperhq/hyper/internal/protocol"
)

// networkMode is the pod's network mode: its own, else the daemon's.
func networkMode(def string, spec types.PodSpec) string {
	switch {
	case spec.Network != "":
		return spec.Network
	case def != "":
		return def
	}
	return types.NetworkUser
}

// podNetwork is what a pod's run needs of the network.
type podNetwork struct {
	mode     string
	nics     []hypervisor.NIC
	ifaces   []protocol.Interface
	bindings []types.PortBinding
	// addr is the pod's address (bridge mode); resolv the resolvers the
	// pod reaches: the user-mode network's, or the host's (bridge).
	addr   netip.Addr
	resolv network.Resolv
}

// planNetwork turns the pod's network mode and ports into NICs for the VM
// and interfaces for the guest. It checks that every host port is free.
// In bridge mode it attaches the pod to br (the caller detaches it if the
// run fails). user is the guest side of the hypervisor's user-mode
// network, nil if it has none.
func planNetwork(def, podID string, spec types.PodSpec, br *network.Bridge, user *hypervisor.UserNet) (podNetwork, error) {
	n := podNetwork{mode: networkMode(def, spec)}
	bindings, err := portBindings(spec.Ports)
	if err != nil {
		return n, err
	}
	mac := podMAC(podID)
	switch n.mode {
	case types.NetworkNone:
		if len(bindings) > 0 {
			return n, errdefs.InvalidArgument("network none: a pod without network cannot publish ports")
		}
		return n, nil
	case types.NetworkUser:
		if user == nil {
			return n, errdefs.Unavailable("network user: the hypervisor has no user-mode network")
		}
		if err := checkPortsFree(bindings); err != nil {
			return n, err
		}
		n.nics = []hypervisor.NIC{{ID: "eth0", MAC: mac, Forwards: hostForwards(bindings)}}
		n.ifaces = []protocol.Interface{{MAC: mac, Address: user.Address, Gateway: user.Gateway, MTU: user.MTU}}
		n.resolv.Servers = user.DNS
	case types.NetworkBridge:
		if br == nil {
			return n, errdefs.Unavailable("network bridge: not configured in this hyperd")
		}
		a, err := br.Attach(podID, netPorts(bindings))
		if err != nil {
			return n, err
		}
		n.nics = []hypervisor.NIC{{ID: "eth0", MAC: mac, Tap: a.Tap}}
		n.ifaces = []protocol.Interface{{MAC: mac, Address: a.Address.String(), Gateway: a.Gateway.String(), MTU: a.MTU}}
		n.addr, n.resolv = a.Address.Addr(), network.HostResolv(hostResolvConf)
	default:
		return n, errdefs.InvalidArgument("unknown network mode %q (want user, bridge or none)", n.mode)
	}
	n.bindings = bindings
	return n, nil
}

// hostResolvConf is the host's resolver configuration, which bridge pods
// get (less loopback resolvers) unless they name their own.
const hostResolvConf = "/etc/resolv.conf"

// dns is the guest's resolver configuration: the pod's, else the
// user-mode network's (user) or the host's reachable ones (bridge).
func (n podNetwork) dns(d *types.DNSConfig) protocol.DNSConfig {
	c := podDNS(d)
	if len(c.Servers) > 0 {
		return c
	}
	switch n.mode {
	case types.NetworkUser:
		c.Servers = n.resolv.Servers
	case types.NetworkBridge:
		c.Servers = n.resolv.Servers
		if len(c.Search) == 0 {
			c.Search = n.resolv.Search
		}
		if len(c.Options) == 0 {
			c.Options = n.resolv.Options
		}
	}
	return c
}

// hosts are the pod's /etc/hosts entries beyond localhost: its hostname
// and name, on its bridge address (else 127.0.1.1, as Debian does).
func (n podNetwork) hosts(hostname, name string) []protocol.HostEntry {
	ip := "127.0.1.1"
	if n.addr.IsValid() {
		ip = n.addr.String()
	}
	return []protocol.HostEntry{{IP: ip, Names: []string{hostname, name}}}
}

// netPorts converts checked bindings (or recorded ones) for the network
// package; a missing host IP is every address.
func netPorts(bs []types.PortBinding) []network.Port {
	var ps []network.Port
	for _, b := range bs {
		ip, err := netip.ParseAddr(b.HostIP)
		if err != nil {
			ip = netip.IPv4Unspecified()
		}
		ps = append(ps, network.Port{Proto: b.Protocol, HostIP: ip,
			HostPort: uint16(b.HostPort), GuestPort: uint16(b.ContainerPort)})
	}
	return ps
}

// podMAC derives a stable, locally administered unicast MAC from the pod
// ID: the guest finds its NIC by it.
func podMAC(podID string) string {
	h := sha256.Sum256([]byte(podID))
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4])
}

// portBindings expands the published mappings (HostPort != 0), one per
// port of a range, and checks them.
func portBindings(ports []types.PortMapping) ([]types.PortBinding, error) {
	var bs []types.PortBinding
	seen := map[string]bool{}
	for _, p := range ports {
		if p.HostPort == 0 {
			continue // declared, not published
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, errdefs.InvalidArgument("port %d: protocol %q: want tcp or udp", p.ContainerPort, p.Protocol)
		}
		count := max(p.Count, 1)
		if p.HostPort < 1 || p.ContainerPort < 1 || p.HostPort+count-1 > 65535 || p.ContainerPort+count-1 > 65535 {
			return nil, errdefs.InvalidArgument("port mapping %d:%d (%d ports): ports must be within 1-65535", p.HostPort, p.ContainerPort, count)
		}
		ip := "0.0.0.0"
		if p.HostIP != "" {
			a, err := netip.ParseAddr(p.HostIP)
			if err != nil || !a.Is4() {
				return nil, errdefs.InvalidArgument("port %d: host IP %q: want an IPv4 address", p.HostPort, p.HostIP)
			}
			ip = a.String()
		}
		for i := range count {
			b := types.PortBinding{ContainerPort: p.ContainerPort + i, Protocol: proto, HostIP: ip, HostPort: p.HostPort + i}
			key := fmt.Sprintf("%d/%s", b.HostPort, proto)
			if seen[key] {
				return nil, errdefs.InvalidArgument("host port %s is published twice", key)
			}
			seen[key] = true
			bs = append(bs, b)
		}
	}
	return bs, nil
}

// hostForwards are checked bindings as a user-mode NIC's port forwards.
func hostForwards(bs []types.PortBinding) []hypervisor.PortForward {
	var fw []hypervisor.PortForward
	for _, p := range netPorts(bs) {
		fw = append(fw, hypervisor.PortForward(p))
	}
	return fw
}

// checkPortsFree binds every host port, then releases them all: a port in
// use is a clear error before the VM starts. (The hypervisor binds them a
// moment later; a port taken in between fails the boot.)
func checkPortsFree(bs []types.PortBinding) error {
	held, err := network.Reserve(netPorts(bs))
	for _, c := range held {
		c.Close()
	}
	return err
}
