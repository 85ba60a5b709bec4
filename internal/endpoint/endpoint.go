// Package endpoint is where hyperd's API is reached, for both of its ends
// (hyperd's listeners, hyperctl's client): the address, unix:///path or
// tcp://host:port, and over TCP the mutual TLS that guards it.
package endpoint

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Networks of a Host.
const (
	Unix = "unix"
	TCP  = "tcp"
)

// Host is one address of the API.
type Host struct {
	Network string // Unix or TCP
	Address string // a socket path, or host:port
}

// String is the host as Parse reads it.
func (h Host) String() string {
	if h.Network == Unix {
		return "unix://" + h.Address
	}
	return h.Network + "://" + h.Address
}

// Parse reads unix:///path, a plain path (a unix socket, made absolute), or
// tcp://host:port. The port is required: TCP has no default here, so a
// listener is never opened on a port nobody asked for.
func Parse(s string) (Host, error) {
	switch {
	case s != "" && !strings.Contains(s, "://"):
		p, err := filepath.Abs(s)
		if err != nil {
			return Host{}, errdefs.InvalidArgument("invalid host %q: %w", s, err)
		}
		return Host{Network: Unix, Address: p}, nil
	case strings.HasPrefix(s, "unix://"):
		p := strings.TrimPrefix(s, "unix://")
		if !strings.HasPrefix(p, "/") {
			return Host{}, errdefs.InvalidArgument("invalid host %q: want unix:///absolute/path", s)
		}
		return Host{Network: Unix, Address: p}, nil
	case strings.HasPrefix(s, "tcp://"):
		return parseTCP(s)
	default:
		return Host{}, errdefs.InvalidArgument("invalid host %q: want unix:///path or tcp://host:port", s)
	}
}

func parseTCP(s string) (Host, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Host{}, errdefs.InvalidArgument("invalid host %q: %w", s, err)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return Host{}, errdefs.InvalidArgument("invalid host %q: want tcp://host:port and nothing more", s)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return Host{}, errdefs.InvalidArgument("invalid host %q: want tcp://host:port (the port is required)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return Host{}, errdefs.InvalidArgument("invalid host %q: port %q: want 0-65535 (0: any free port)", s, port)
	}
	return Host{Network: TCP, Address: net.JoinHostPort(host, port)}, nil
}

// Name is the host name (or IP) of a TCP host, as its server certificate
// must name it; "" for a unix socket.
func (h Host) Name() string {
	if h.Network != TCP {
		return ""
	}
	host, _, _ := net.SplitHostPort(h.Address)
	return host
}
