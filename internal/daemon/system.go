package daemon

import (
	"context"
	"runtime"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// versioner is a driver that can tell its version.
type versioner interface {
	Version(ctx context.Context) (string, error)
}

// System adapts the daemon to api.System.
type System struct{ d *Daemon }

// Info implements api.System.
func (x System) Info(ctx context.Context) (types.Info, error) {
	d := x.d
	in := types.Info{
		Version: d.cfg.Version, Hypervisor: d.cfg.VM.Driver.Name(),
		Accel: d.cfg.VM.Accel.Kind, AccelReason: d.cfg.VM.Accel.Reason,
		Kernel: d.cfg.VM.Kernel.Path, Initrd: d.cfg.VM.Kernel.Initrd, Root: d.cfg.Root,
		Isolation: isolation(d.cfg.VM.Accel.Kind), API: d.cfg.API,
	}
	if v, ok := d.cfg.VM.Driver.(versioner); ok {
		in.HypervisorVersion, _ = v.Version(ctx)
	}
	pods, _ := d.Pods().List(ctx, true)
	in.Pods = len(pods)
	for _, p := range pods {
		if p.State == stateRunning {
			in.PodsRunning++
		}
	}
	bc := d.net.Config()
	in.Bridge = types.BridgeInfo{Name: bc.Bridge, Subnet: bc.Subnet.String()}
	if leases, err := d.net.Leases(); err == nil {
		for _, l := range leases {
			in.Bridge.Leases = append(in.Bridge.Leases, types.BridgeLease{Pod: l.Pod, Address: l.Addr.String()})
		}
	}
	if ims, err := d.imageStore.List(ctx); err == nil {
		in.Images = len(ims)
	}
	return in, nil
}

// isolation says honestly what an acceleration kind isolates with.
func isolation(accel string) types.Isolation {
	switch accel {
	case hypervisor.AccelKVM:
		return types.Isolation{Mechanism: "hardware virtualization", SecurityBoundary: true,
			Note: "KVM: guest code runs under the CPU's virtualization extensions; QEMU treats this as a security boundary"}
	case hypervisor.AccelTCG:
		return types.Isolation{Mechanism: "software emulation", SecurityBoundary: false,
			Note: "TCG: QEMU emulates the CPU in software, and QEMU does not treat TCG as a security boundary " +
				"(https://www.qemu.org/docs/master/system/security.html): a guest that exploits a QEMU bug may reach the host. " +
				"Use KVM to run untrusted code"}
	default:
		return types.Isolation{Mechanism: "unknown", Note: "acceleration " + accel + " is not known to hyperd"}
	}
}

// Version implements api.System.
func (x System) Version() types.Version {
	d := x.d
	return types.Version{Version: d.cfg.Version, APIVersion: types.APIVersion,
		GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}
}

// Backend returns the daemon as everything the API serves.
func (d *Daemon) Backend() api.Backend {
	return api.Backend{Pods: d.Pods(), Streams: d.Streams(), Execs: d.Execs(), Images: d.Images(), System: System{d},
		Volumes: Volumes{d}, Containers: d.Containers(), Events: d.events, Metrics: d.metricsHandler(),
		Resources: d.Resources(), Files: d.Files()}
}
