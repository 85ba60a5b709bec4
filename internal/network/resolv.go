package network

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

// Resolv is the resolver part of a resolv.conf.
type Resolv struct {
	Servers []string
	Search  []string
	Options []string
}

// FallbackServers replace a host's resolvers when a pod cannot reach any
// of them (all on the host's loopback), as docker does.
var FallbackServers = []string{"8.8.8.8", "8.8.4.4"}

// HostResolv reads the host's resolv.conf at path for a pod on the
// bridge: the host's loopback resolvers (127.0.0.53 of systemd-resolved,
// a local dnsmasq) are not reachable from a pod, so they are dropped, and
// FallbackServers used when none is left. A missing file gives the
// fallback.
func HostResolv(path string) Resolv {
	var r Resolv
	b, _ := os.ReadFile(path)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			a, err := netip.ParseAddr(f[1])
			if err == nil && a.Is4() && !a.IsLoopback() && !a.IsUnspecified() {
				r.Servers = append(r.Servers, a.String())
			}
		case "search", "domain":
			r.Search = f[1:]
		case "options":
			r.Options = append(r.Options, f[1:]...)
		}
	}
	if len(r.Servers) == 0 {
		r.Servers = append([]string(nil), FallbackServers...)
	}
	return r
}
