package daemon

import (
	"fmt"
	"strings"

	"github.com/hyperhq/hyper/internal/api/signals"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// checkSpec refuses the parts of a pod spec this daemon cannot carry out
// yet, naming them, so that a pod never runs other than its file says; it
// returns warnings for what is safe to run without.
func checkSpec(spec types.PodSpec) ([]string, error) {
	var missing, warnings []string
	if len(spec.InitContainers) > 0 {
		missing = append(missing, "initContainers")
	}
	if len(spec.Volumes) > 0 {
		missing = append(missing, "volumes")
	}
	if len(spec.Files) > 0 {
		missing = append(missing, "files")
	}
	switch spec.Network {
	case "", types.NetworkUser, types.NetworkNone:
	default:
		return nil, errdefs.InvalidArgument("network %q: want user or none", spec.Network)
	}
	if bs, err := portBindings(spec.Ports); err != nil {
		return nil, err
	} else if len(bs) > 0 && spec.Network == types.NetworkNone {
		return nil, errdefs.InvalidArgument("network none: a pod without network cannot publish ports")
	} else if err := checkPortsFree(bs); err != nil {
		return nil, err // checked again when the pod starts
	}
	policies := []string{spec.RestartPolicy}
	for i, c := range spec.Containers {
		where := fmt.Sprintf("containers[%d]", i)
		if len(c.VolumeMounts) > 0 {
			missing = append(missing, where+".volumeMounts")
		}
		if len(c.Files) > 0 {
			missing = append(missing, where+".files")
		}
		if len(c.Sysctls) > 0 {
			missing = append(missing, where+".sysctls")
		}
		if c.StopSignal != "" {
			if _, err := signals.Parse(c.StopSignal); err != nil {
				return nil, errdefs.InvalidArgument("%s.stopSignal: %v", where, err)
			}
		}
		for _, u := range c.Ulimits {
			if u.Soft < 0 || u.Hard < 0 || u.Soft > u.Hard {
				return nil, errdefs.InvalidArgument("%s.ulimits: %s: soft %d, hard %d", where, u.Name, u.Soft, u.Hard)
			}
		}
		policies = append(policies, c.RestartPolicy)
	}
	if len(missing) > 0 {
		return nil, errdefs.InvalidArgument("not supported yet by this hyperd: %s", strings.Join(missing, ", "))
	}
	for _, p := range policies {
		if p != "" && p != types.RestartPolicyNever {
			warnings = append(warnings, fmt.Sprintf("restart policy %q is not carried out yet: containers are not restarted", p))
			break
		}
	}
	return warnings, nil
}

// applyExtras carries a container spec's optional settings into its
// process.
func applyExtras(p *protocol.ProcessSpec, c types.ContainerSpec) {
	p.AdditionalGroups = c.AdditionalGroups
	for _, u := range c.Ulimits {
		p.Rlimits = append(p.Rlimits, protocol.Rlimit{
			Type: "RLIMIT_" + strings.ToUpper(strings.TrimPrefix(strings.ToLower(u.Name), "rlimit_")),
			Soft: uint64(u.Soft), Hard: uint64(u.Hard),
		})
	}
}

// stopSignal is the signal that stops container c.
func stopSignal(c types.ContainerSpec) int {
	if n, err := signals.Parse(c.StopSignal); err == nil && c.StopSignal != "" {
		return n
	}
	return 15 // SIGTERM
}

// podDNS is the pod's resolver configuration for the guest.
func podDNS(d *types.DNSConfig) protocol.DNSConfig {
	if d == nil {
		return protocol.DNSConfig{}
	}
	return protocol.DNSConfig{Servers: d.Nameservers, Search: d.Searches, Options: d.Options}
}
