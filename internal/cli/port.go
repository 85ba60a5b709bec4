package cli

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// portSpecRE is docker's -p syntax without the random-port forms:
// [HOSTIP:]HOSTPORT[-END]:CONTAINERPORT[-END][/PROTO].
var portSpecRE = regexp.MustCompile(`^(?:([0-9.]+):)?([0-9]+)(?:-([0-9]+))?:([0-9]+)(?:-([0-9]+))?(?:/([a-zA-Z]+))?$`)

// looksLikePortSpec tells a -p port spec from a -p pod file: a spec is
// digits, dots, colons, dashes and an optional /proto, with a colon.
func looksLikePortSpec(s string) bool {
	body, _, _ := strings.Cut(s, "/")
	return strings.Contains(body, ":") && strings.Trim(body, "0123456789.:-") == ""
}

// parsePortSpec parses one -p value into a port mapping.
func parsePortSpec(s string) (types.PortMapping, error) {
	m := portSpecRE.FindStringSubmatch(s)
	if m == nil {
		return types.PortMapping{}, errdefs.InvalidArgument("invalid port spec %q: want [HOSTIP:]HOSTPORT[-END]:CONTAINERPORT[-END][/tcp|udp]", s)
	}
	pm := types.PortMapping{Protocol: strings.ToLower(m[6])}
	if pm.Protocol == "" {
		pm.Protocol = "tcp"
	}
	if pm.Protocol != "tcp" && pm.Protocol != "udp" {
		return pm, errdefs.InvalidArgument("port spec %q: protocol %q: want tcp or udp", s, m[6])
	}
	if m[1] != "" {
		a, err := netip.ParseAddr(m[1])
		if err != nil || !a.Is4() {
			return pm, errdefs.InvalidArgument("port spec %q: host IP %q is not an IPv4 address", s, m[1])
		}
		pm.HostIP = a.String()
	}
	hostLo, hostHi, err := portRange(s, m[2], m[3])
	if err != nil {
		return pm, err
	}
	ctrLo, ctrHi, err := portRange(s, m[4], m[5])
	if err != nil {
		return pm, err
	}
	if hostHi-hostLo != ctrHi-ctrLo {
		return pm, errdefs.InvalidArgument("port spec %q: host and container ranges have different lengths", s)
	}
	pm.HostPort, pm.ContainerPort = hostLo, ctrLo
	if n := hostHi - hostLo + 1; n > 1 {
		pm.Count = n
	}
	return pm, nil
}

func portRange(spec, lo, hi string) (int, int, error) {
	l, err := strconv.Atoi(lo)
	if err != nil || l < 1 || l > 65535 {
		return 0, 0, errdefs.InvalidArgument("port spec %q: port %s is out of range 1-65535", spec, lo)
	}
	h := l
	if hi != "" {
		if h, err = strconv.Atoi(hi); err != nil || h < l || h > 65535 {
			return 0, 0, errdefs.InvalidArgument("port spec %q: bad range %s-%s", spec, lo, hi)
		}
	}
	return l, h, nil
}

// publishOrPod is the value of run's -p: a port spec publishes a port (as
// docker's -p), anything else names a pod file (as --pod).
type publishOrPod struct{ o *runOptions }

func (v publishOrPod) String() string { return "" }
func (v publishOrPod) Type() string   { return "PORTS" }
func (v publishOrPod) Set(s string) error {
	if looksLikePortSpec(s) {
		v.o.publish = append(v.o.publish, s)
		return nil
	}
	if v.o.podFile != "" {
		return fmt.Errorf("one pod file only (%s, %s)", v.o.podFile, s)
	}
	v.o.podFile = s
	return nil
}

// addNetworkFlags adds run's and create's network flags.
func addNetworkFlags(cmd *cobra.Command, o *runOptions) {
	f := cmd.Flags()
	f.StringVar(&o.network, "network", "", "network mode: user (NAT, published ports), bridge (an address on hyperd's bridge) or none (loopback only); default: hyperd's")
	f.StringArrayVar(&o.dns, "dns", nil, "set a DNS server")
	f.StringArrayVar(&o.dnsSearch, "dns-search", nil, "set a DNS search domain")
	f.StringArrayVar(&o.dnsOptions, "dns-option", nil, "set a DNS option (ndots:2)")
}

// applyNetwork puts the network flags into spec (over a pod file's).
func (o *runOptions) applyNetwork(spec *types.PodSpec) error {
	for _, p := range o.publish {
		pm, err := parsePortSpec(p)
		if err != nil {
			return err
		}
		spec.Ports = append(spec.Ports, pm)
	}
	switch o.network {
	case "":
	case types.NetworkUser, types.NetworkNone, types.NetworkBridge:
		spec.Network = o.network
	default:
		return errdefs.InvalidArgument("--network %q: want user, bridge or none", o.network)
	}
	for _, s := range o.dns {
		if _, err := netip.ParseAddr(s); err != nil {
			return errdefs.InvalidArgument("--dns %q: not an IP address", s)
		}
	}
	if len(o.dns)+len(o.dnsSearch)+len(o.dnsOptions) > 0 {
		if spec.DNS == nil {
			spec.DNS = &types.DNSConfig{}
		}
		spec.DNS.Nameservers = append(spec.DNS.Nameservers, o.dns...)
		spec.DNS.Searches = append(spec.DNS.Searches, o.dnsSearch...)
		spec.DNS.Options = append(spec.DNS.Options, o.dnsOptions...)
	}
	return nil
}

// formatPorts is a pod's published ports, docker's way:
// "80/tcp -> 0.0.0.0:8080".
func formatPorts(bs []types.PortBinding) []string {
	var lines []string
	for _, b := range bs {
		lines = append(lines, fmt.Sprintf("%d/%s -> %s:%d", b.ContainerPort, b.Protocol, b.HostIP, b.HostPort))
	}
	return lines
}

func newPortCommand(h *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "port POD [PRIVATE_PORT[/PROTO]]",
		Short: "List a running pod's published ports",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := h.client()
			if err != nil {
				return err
			}
			pod, err := c.GetPod(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if pod.State != types.StateRunning {
				return nil // nothing is published by a pod that does not run
			}
			bs := pod.Ports
			if len(args) == 2 {
				port, proto, _ := strings.Cut(args[1], "/")
				if proto == "" {
					proto = "tcp"
				}
				var sel []types.PortBinding
				for _, b := range bs {
					if strconv.Itoa(b.ContainerPort) == port && b.Protocol == proto {
						sel = append(sel, b)
					}
				}
				if len(sel) == 0 {
					return errdefs.NotFound("no public port '%s/%s' published for %s", port, proto, args[0])
				}
				for _, b := range sel {
					fmt.Fprintf(h.streams.Out, "%s:%d\n", b.HostIP, b.HostPort)
				}
				return nil
			}
			for _, l := range formatPorts(bs) {
				fmt.Fprintln(h.streams.Out, l)
			}
			return nil
		},
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageErrorf(cmd, "%q requires %d to %d arguments", cmd.CommandPath(), lo, hi)
		}
		return nil
	}
}
