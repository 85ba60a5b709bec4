package daemon

import (
	"fmt"
	"net/netip"
	"regexp"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// This file checks and carries out the pod settings of run's docker
// flags that have no older home: --add-host (HostAliases), --log-opt
// (Log) and --stop-timeout (StopTimeout; stoptimeout.go).

// validHostname is one /etc/hosts name (RFC 1123 labels, dots between).
var validHostname = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}))*$`)

// maxHostAliases bounds a pod's extra /etc/hosts entries.
const maxHostAliases = 256

// checkRunFlags refuses what checkSpec's older checks do not cover.
func checkRunFlags(spec types.PodSpec) error {
	if spec.StopTimeout < 0 {
		return errdefs.InvalidArgument("stopTimeout %d: want 0 or more seconds", spec.StopTimeout)
	}
	for i, c := range spec.Containers {
		if err := checkHealthConfig(fmt.Sprintf("containers[%d]", i), c.Healthcheck); err != nil {
			return err
		}
		if c.ShmSizeMB < 0 || c.ShmSizeMB > maxShmSizeMB {
			return errdefs.InvalidArgument("containers[%d].shmSizeMB %d: want 0 to %d", i, c.ShmSizeMB, maxShmSizeMB)
		}
	}
	if l := spec.Log; l != nil && (l.MaxSize < 0 || l.MaxFiles < 0 || l.MaxFiles > maxLogFiles || l.MaxSize > 0 && l.MaxSize < minLogSize) {
		return errdefs.InvalidArgument("log: maxSize %d (0, or %d bytes or more), maxFiles %d (0 to %d)", l.MaxSize, minLogSize, l.MaxFiles, maxLogFiles)
	}
	if len(spec.HostAliases) > maxHostAliases {
		return errdefs.InvalidArgument("hostAliases: %d entries, at most %d", len(spec.HostAliases), maxHostAliases)
	}
	for i, a := range spec.HostAliases {
		if a.IP != types.HostGateway {
			if _, err := netip.ParseAddr(a.IP); err != nil {
				return errdefs.InvalidArgument("hostAliases[%d]: ip %q: want an IP address or %s", i, a.IP, types.HostGateway)
			}
		} else if spec.Network == types.NetworkNone {
			return errdefs.InvalidArgument("hostAliases[%d]: a pod without network has no %s", i, types.HostGateway)
		}
		if len(a.Hostnames) == 0 {
			return errdefs.InvalidArgument("hostAliases[%d]: no hostnames", i)
		}
		for _, h := range a.Hostnames {
			if len(h) > 253 || !validHostname.MatchString(h) {
				return errdefs.InvalidArgument("hostAliases[%d]: invalid hostname %q", i, h)
			}
		}
	}
	return nil
}

// hostAliases are the pod's extra /etc/hosts entries; host-gateway is the
// gateway of the pod's interface (the host: slirp's in user mode, the
// bridge's address in bridge mode).
func (n podNetwork) hostAliases(aliases []types.HostAlias) ([]protocol.HostEntry, error) {
	var out []protocol.HostEntry
	for _, a := range aliases {
		ip := a.IP
		if ip == types.HostGateway {
			if len(n.ifaces) == 0 || n.ifaces[0].Gateway == "" {
				return nil, errdefs.InvalidArgument("--add-host %s: network %s has no gateway to the host", types.HostGateway, n.mode)
			}
			ip = n.ifaces[0].Gateway
		}
		out = append(out, protocol.HostEntry{IP: ip, Names: a.Hostnames})
	}
	return out, nil
}

// maxShmSizeMB bounds a container's /dev/shm (a tmpfs: it takes the VM's
// memory only as it fills).
const maxShmSizeMB = 1 << 20

// Bounds of a pod's own log rotation.
const (
	minLogSize  = 4 << 10
	maxLogFiles = 100
)

// logMaxSize and logMaxFiles are the pod's own log rotation, 0 for
// hyperd's.
func logMaxSize(spec types.PodSpec) int64 {
	if spec.Log == nil {
		return 0
	}
	return spec.Log.MaxSize
}

func logMaxFiles(spec types.PodSpec) int {
	if spec.Log == nil {
		return 0
	}
	return spec.Log.MaxFiles
}
