package daemon

import (
	"errors"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/network"
)

// userDNS is the resolver of the tests' user-mode network.
const userDNS = "192.0.2.53"

// userNet is the guest side of the tests' user-mode network.
var userNet = &hypervisor.UserNet{Address: "192.0.2.15/24", Gateway: "192.0.2.2", DNS: []string{userDNS}, MTU: 1500}

func TestHostForwards(t *testing.T) {
	bs, err := portBindings([]types.PortMapping{
		{ContainerPort: 80, HostPort: 18080, HostIP: "127.0.0.1"},
		{ContainerPort: 80, HostPort: 8080, Count: 3},
		{ContainerPort: 53, HostPort: 5353, Protocol: "UDP"},
		{ContainerPort: 9000}, // declared only
	})
	if err != nil {
		t.Fatal(err)
	}
	lo, any4 := netip.MustParseAddr("127.0.0.1"), netip.IPv4Unspecified()
	want := []hypervisor.PortForward{
		{Proto: "tcp", HostIP: lo, HostPort: 18080, GuestPort: 80},
		{Proto: "tcp", HostIP: any4, HostPort: 8080, GuestPort: 80}, {Proto: "tcp", HostIP: any4, HostPort: 8081, GuestPort: 81}, {Proto: "tcp", HostIP: any4, HostPort: 8082, GuestPort: 82},
		{Proto: "udp", HostIP: any4, HostPort: 5353, GuestPort: 53},
	}
	if got := hostForwards(bs); !reflect.DeepEqual(got, want) {
		t.Fatalf("forwards = %v, want %v", got, want)
	}
}

func TestPortBindingsInvalid(t *testing.T) {
	for name, ps := range map[string][]types.PortMapping{
		"proto":     {{ContainerPort: 80, HostPort: 80, Protocol: "sctp"}},
		"range end": {{ContainerPort: 80, HostPort: 65535, Count: 2}},
		"ip":        {{ContainerPort: 80, HostPort: 80, HostIP: "nope"}},
		"ipv6":      {{ContainerPort: 80, HostPort: 80, HostIP: "::1"}},
		"twice":     {{ContainerPort: 80, HostPort: 80}, {ContainerPort: 81, HostPort: 79, Count: 2}},
		"zero":      {{ContainerPort: 0, HostPort: 80}},
	} {
		if _, err := portBindings(ps); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// The same port for tcp and udp is fine.
	if _, err := portBindings([]types.PortMapping{{ContainerPort: 53, HostPort: 53}, {ContainerPort: 53, HostPort: 53, Protocol: "udp"}}); err != nil {
		t.Error(err)
	}
}

func TestPodMAC(t *testing.T) {
	m := podMAC("abc")
	hw, err := net.ParseMAC(m)
	if err != nil || len(hw) != 6 || hw[0]&2 == 0 || hw[0]&1 != 0 {
		t.Fatalf("podMAC = %q (%v): want a locally administered unicast MAC", m, err)
	}
	if podMAC("abc") != m || podMAC("abd") == m {
		t.Fatal("podMAC is not a stable function of the pod ID")
	}
}

func TestCheckPortsFree(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = checkPortsFree([]types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: port}})
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("err = %v, want a conflict", err)
	}
	// A free port is free again afterwards.
	l2, _ := net.Listen("tcp4", "127.0.0.1:0")
	free := l2.Addr().(*net.TCPAddr).Port
	l2.Close()
	b := []types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: free}, {ContainerPort: 80, Protocol: "udp", HostIP: "127.0.0.1", HostPort: free}}
	if err := checkPortsFree(b); err != nil {
		t.Fatal(err)
	}
	if err := checkPortsFree(b); err != nil {
		t.Fatalf("ports not released: %v", err)
	}
}

func TestNetworkMode(t *testing.T) {
	def := ""
	if m := networkMode(def, types.PodSpec{}); m != types.NetworkUser {
		t.Errorf("default = %q", m)
	}
	def = "none"
	if m := networkMode(def, types.PodSpec{}); m != types.NetworkNone {
		t.Errorf("config none = %q", m)
	}
	if m := networkMode(def, types.PodSpec{Network: "user"}); m != types.NetworkUser {
		t.Errorf("pod user = %q", m)
	}
	n, err := planNetwork(def, "id", types.PodSpec{}, nil, userNet)
	if err != nil || len(n.nics) != 0 || len(n.dns(nil).Servers) != 0 {
		t.Errorf("none: %+v, %v", n, err)
	}
	n, err = planNetwork(def, "id", types.PodSpec{Network: "user"}, nil, userNet)
	if err != nil || len(n.nics) != 1 || n.ifaces[0].MAC != n.nics[0].MAC || n.dns(nil).Servers[0] != userDNS {
		t.Errorf("user: %+v, %v", n, err)
	}
	if s := n.dns(&types.DNSConfig{Nameservers: []string{"1.1.1.1"}}).Servers; len(s) != 1 || s[0] != "1.1.1.1" {
		t.Errorf("pod DNS ignored: %v", s)
	}
	if h := n.hosts("host", "name"); len(h) != 1 || h[0].IP != "127.0.1.1" {
		t.Errorf("user hosts: %+v", h)
	}
	if _, err := planNetwork(def, "id", types.PodSpec{Network: "user"}, nil, nil); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("user without a user-mode network: %v", err)
	}
	if _, err := planNetwork(def, "id", types.PodSpec{Network: "bridge"}, nil, userNet); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("bridge without a bridge network: %v", err)
	}
	if _, err := planNetwork(def, "id", types.PodSpec{Network: "host"}, nil, userNet); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown mode: %v", err)
	}
}

// TestBridgeDNS: a bridge pod gets the host's reachable resolvers, its
// own when it names them, and its address in /etc/hosts.
func TestBridgeDNS(t *testing.T) {
	n := podNetwork{mode: types.NetworkBridge, addr: netip.MustParseAddr("10.88.0.5"),
		resolv: network.Resolv{Servers: []string{"192.0.2.1"}, Search: []string{"example"}}}
	if c := n.dns(nil); len(c.Servers) != 1 || c.Servers[0] != "192.0.2.1" || c.Search[0] != "example" {
		t.Errorf("host resolvers: %+v", c)
	}
	if c := n.dns(&types.DNSConfig{Nameservers: []string{"1.1.1.1"}}); c.Servers[0] != "1.1.1.1" || len(c.Search) != 0 {
		t.Errorf("pod resolvers: %+v", c)
	}
	if h := n.hosts("host", "name"); h[0].IP != "10.88.0.5" || h[0].Names[1] != "name" {
		t.Errorf("hosts: %+v", h)
	}
	if ps := netPorts([]types.PortBinding{{ContainerPort: 80, Protocol: "tcp", HostPort: 8080}}); !ps[0].HostIP.IsUnspecified() || ps[0].GuestPort != 80 {
		t.Errorf("netPorts: %+v", ps)
	}
}
