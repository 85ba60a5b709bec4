package daemon

import (
	"fmt"
	"strings"

	"github.com/hyperhq/hyper/internal/api/signals"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// checkSpec refuses a pod spec this daemon cannot carry out as written
// (network mode, ports, restart policies, files, sysctls, stop signals,
// ulimits), naming the field, so that a pod never runs other than its file
// says; it returns warnings for what is safe to run without.
func checkSpec(spec types.PodSpec) ([]string, error) {
	var warnings []string
	switch spec.Network {
	case "", types.NetworkUser, types.NetworkNone, types.NetworkBridge:
	default:
		return nil, errdefs.InvalidArgument("network %q: want user, bridge or none", spec.Network)
	}
	if bs, err := portBindings(spec.Ports); err != nil {
		return nil, err
	} else if len(bs) > 0 && spec.Network == types.NetworkNone {
		return nil, errdefs.InvalidArgument("network none: a pod without network cannot publish ports")
	} else if err := checkPortsFree(bs); err != nil {
		return nil, err // checked again when the pod starts
	}
	if _, _, err := sandbox.ParsePolicy(spec.RestartPolicy); err != nil {
		return nil, errdefs.InvalidArgument("restartPolicy: %w", err)
	}
	if err := checkFiles(spec); err != nil {
		return nil, err
	}
	if err := checkRunFlags(spec); err != nil {
		return nil, err
	}
	if _, err := podSysctls(spec); err != nil {
		return nil, err
	}
	check := func(where string, c types.ContainerSpec) error {
		if c.StopSignal != "" {
			if _, err := signals.Parse(c.StopSignal); err != nil {
				return errdefs.InvalidArgument("%s.stopSignal: %w", where, err)
			}
		}
		for _, u := range c.Ulimits {
			if u.Soft < 0 || u.Hard < 0 || u.Soft > u.Hard {
				return errdefs.InvalidArgument("%s.ulimits: %s: soft %d, hard %d", where, u.Name, u.Soft, u.Hard)
			}
		}
		if _, _, err := sandbox.ParsePolicy(c.RestartPolicy); err != nil {
			return errdefs.InvalidArgument("%s.restartPolicy: %w", where, err)
		}
		return nil
	}
	for i, c := range spec.InitContainers {
		where := fmt.Sprintf("initContainers[%d]", i)
		if err := check(where, c); err != nil {
			return nil, err
		}
		if c.RestartPolicy != "" && c.RestartPolicy != types.RestartPolicyNever {
			warnings = append(warnings, fmt.Sprintf("%s.restartPolicy %q: init containers are not retried: a failing one fails the pod's start", where, c.RestartPolicy))
		}
	}
	for i, c := range spec.Containers {
		if err := check(fmt.Sprintf("containers[%d]", i), c); err != nil {
			return nil, err
		}
	}
	return warnings, nil
}

// maxImagesPerPod bounds the image disks of a pod. They are hot-plug
// disks (ADR 0007: a VM takes 256); the bound keeps room for
// volumes and containers added later.
const maxImagesPerPod = 64

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

// imageDefaults takes the image's stop signal when the container names none
// (an image's unknown signal is ignored: SIGTERM then), and its labels under
// the container's own.
func imageDefaults(cs *types.ContainerSpec, stopSignal string, labels map[string]string) {
	if cs.StopSignal == "" {
		if _, err := signals.Parse(stopSignal); err == nil {
			cs.StopSignal = stopSignal
		}
	}
	if len(labels) == 0 {
		return
	}
	merged := make(map[string]string, len(labels)+len(cs.Labels))
	for k, v := range labels {
		merged[k] = v
	}
	for k, v := range cs.Labels {
		merged[k] = v
	}
	cs.Labels = merged
}
