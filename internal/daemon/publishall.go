package daemon

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// publishAll carries out spec.PublishAll (run -P): each port the
// containers' images EXPOSE that spec.Ports does not publish yet gets a
// free host port, chosen now and recorded in spec.Ports (so it stays the
// same across starts; a port taken meanwhile fails the start, as any
// published port does).
func (d *Daemon) publishAll(ctx context.Context, spec *types.PodSpec) error {
	if !spec.PublishAll {
		return nil
	}
	if spec.Network == types.NetworkNone {
		return errdefs.InvalidArgument("-P: a pod without network cannot publish ports")
	}
	published := map[string]bool{}
	for _, p := range spec.Ports {
		for i := range max(p.Count, 1) {
			published[fmt.Sprintf("%d/%s", p.ContainerPort+i, protoOr(p.Protocol))] = p.HostPort != 0
		}
	}
	for _, c := range spec.Containers {
		img, err := d.images.Get(ctx, c.Image)
		if err != nil {
			return fmt.Errorf("container %s: %w", c.Name, err)
		}
		for _, e := range img.Config.ExposedPorts {
			port, proto, err := parseExposed(e)
			if err != nil {
				d.log.Warn("ignoring an image's exposed port", "image", c.Image, "port", e, "err", err)
				continue
			}
			key := fmt.Sprintf("%d/%s", port, proto)
			if published[key] {
				continue
			}
			host, err := freePort(proto)
			if err != nil {
				return errdefs.Unavailable("-P: no free host port for %s: %w", key, err)
			}
			published[key] = true
			spec.Ports = append(spec.Ports, types.PortMapping{ContainerPort: port, HostPort: host, Protocol: proto})
		}
	}
	return nil
}

func protoOr(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}

// parseExposed parses an image's "80/tcp" (or "80").
func parseExposed(s string) (int, string, error) {
	ps, proto, _ := strings.Cut(s, "/")
	proto = protoOr(proto)
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
		return 0, "", fmt.Errorf("want PORT[/tcp|udp]")
	}
	return n, proto, nil
}

// freePort is a host port free now for proto, as the kernel picks one.
func freePort(proto string) (int, error) {
	if proto == "udp" {
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
