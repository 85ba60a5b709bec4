package protocol

import (
	"fmt"
	"slices"
)

// Resource methods: figures of the guest's cgroups and limits set in them.
const (
	MethodStats = "Stats" // StatsRequest -> StatsResult
	MethodTop   = "Top"   // ContainerRef -> TopResult
)

// Bounds on a StatsResult, checked by the host (the guest is untrusted).
const (
	MaxStatsContainers = 256 // containers in one result
	MaxStatsInterfaces = 64  // network interfaces in one result
	MaxStatsName       = 64  // bytes of a container or interface name
)

// StatsRequest asks for the figures of Containers (none: every container
// of the pod, init containers included) and of the pod.
type StatsRequest struct {
	Containers []string `json:"containers,omitempty"`
}

// StatsResult is one reading of the guest. Counters are cumulative since
// the container (or the VM) began; the host computes rates from two
// readings and their ReadNanos.
type StatsResult struct {
	// ReadNanos is the guest's CLOCK_MONOTONIC when the figures were read.
	ReadNanos  int64            `json:"readNanos"`
	Containers []ContainerStats `json:"containers"`
	// Network are the guest's interfaces but lo (the pod's network
	// namespace: every container shares it).
	Network []InterfaceStats `json:"network,omitempty"`
	// MemTotalBytes and MemAvailableBytes are the guest kernel's
	// /proc/meminfo MemTotal and MemAvailable.
	MemTotalBytes     uint64 `json:"memTotalBytes"`
	MemAvailableBytes uint64 `json:"memAvailableBytes"`
	// CPUs is the number of online CPUs of the guest.
	CPUs int `json:"cpus"`
}

// ContainerStats are the figures of one container's cgroup v2 directory.
// A figure the guest kernel does not provide is 0.
type ContainerStats struct {
	Container string      `json:"container"`
	CPU       CPUStats    `json:"cpu"`
	Memory    MemoryStats `json:"memory"`
	Pids      PidsStats   `json:"pids"`
	IO        IOStats     `json:"io"`
}

// CPUStats are cpu.stat's.
type CPUStats struct {
	UsageUsec     uint64 `json:"usageUsec"`
	UserUsec      uint64 `json:"userUsec"`
	SystemUsec    uint64 `json:"systemUsec"`
	Periods       uint64 `json:"periods,omitempty"`
	Throttled     uint64 `json:"throttled,omitempty"`
	ThrottledUsec uint64 `json:"throttledUsec,omitempty"`
}

// MemoryStats are memory.current, memory.max, part of memory.stat and
// memory.events.
type MemoryStats struct {
	UsageBytes uint64 `json:"usageBytes"`
	// LimitBytes is memory.max; 0 when it is "max" (no limit).
	LimitBytes   uint64 `json:"limitBytes,omitempty"`
	AnonBytes    uint64 `json:"anonBytes"`
	FileBytes    uint64 `json:"fileBytes"`
	KernelBytes  uint64 `json:"kernelBytes,omitempty"`
	ShmemBytes   uint64 `json:"shmemBytes,omitempty"`
	InactiveFile uint64 `json:"inactiveFileBytes,omitempty"`
	PgFault      uint64 `json:"pgfault,omitempty"`
	PgMajFault   uint64 `json:"pgmajfault,omitempty"`
	// OOM and OOMKill are memory.events' oom and oom_kill.
	OOM     uint64 `json:"oom,omitempty"`
	OOMKill uint64 `json:"oomKill,omitempty"`
}

// PidsStats are pids.current and pids.max (0: "max").
type PidsStats struct {
	Current uint64 `json:"current"`
	Limit   uint64 `json:"limit,omitempty"`
}

// IOStats are io.stat's, summed over the devices.
type IOStats struct {
	ReadBytes  uint64 `json:"readBytes"`
	WriteBytes uint64 `json:"writeBytes"`
	ReadIOs    uint64 `json:"readIOs"`
	WriteIOs   uint64 `json:"writeIOs"`
}

// InterfaceStats are one network interface's counters.
type InterfaceStats struct {
	Name      string `json:"name"`
	RxBytes   uint64 `json:"rxBytes"`
	RxPackets uint64 `json:"rxPackets"`
	RxErrors  uint64 `json:"rxErrors,omitempty"`
	RxDropped uint64 `json:"rxDropped,omitempty"`
	TxBytes   uint64 `json:"txBytes"`
	TxPackets uint64 `json:"txPackets"`
	TxErrors  uint64 `json:"txErrors,omitempty"`
	TxDropped uint64 `json:"txDropped,omitempty"`
}

// Check bounds a StatsResult read from the guest: it answers only for
// the containers asked for (want; nil: any), each at most once, with
// names and list lengths within the limits.
func (r *StatsResult) Check(want []string) error {
	if len(r.Containers) > MaxStatsContainers {
		return fmt.Errorf("stats: %d containers, at most %d", len(r.Containers), MaxStatsContainers)
	}
	if len(r.Network) > MaxStatsInterfaces {
		return fmt.Errorf("stats: %d interfaces, at most %d", len(r.Network), MaxStatsInterfaces)
	}
	if r.CPUs < 0 || r.CPUs > 1024 {
		return fmt.Errorf("stats: %d CPUs", r.CPUs)
	}
	seen := make(map[string]bool, len(r.Containers))
	for _, c := range r.Containers {
		if c.Container == "" || len(c.Container) > MaxStatsName {
			return fmt.Errorf("stats: bad container name %q", truncate(c.Container))
		}
		if seen[c.Container] {
			return fmt.Errorf("stats: container %q twice", c.Container)
		}
		if want != nil && !slices.Contains(want, c.Container) {
			return fmt.Errorf("stats: container %q was not asked for", c.Container)
		}
		seen[c.Container] = true
	}
	for _, n := range r.Network {
		if n.Name == "" || len(n.Name) > MaxStatsName {
			return fmt.Errorf("stats: bad interface name %q", truncate(n.Name))
		}
	}
	return nil
}

// Bounds on a TopResult.
const (
	MaxTopProcesses = 4096
	MaxTopCommand   = 4096 // bytes of a command line; longer ones are cut
	MaxTopUser      = 64   // bytes of a user name
)

// TopResult lists the processes of a container: those in its cgroup and
// below, by pid.
type TopResult struct {
	Processes []ProcessInfo `json:"processes"`
	// UptimeNanos is the guest's CLOCK_BOOTTIME when they were read: a
	// process's age is UptimeNanos-StartNanos.
	UptimeNanos int64 `json:"uptimeNanos"`
	// MemTotalBytes is the guest's memory (for %MEM).
	MemTotalBytes uint64 `json:"memTotalBytes"`
}

// ProcessInfo is one process as ps sees it (pids of the VM's PID
// namespace, the pod's).
type ProcessInfo struct {
	Pid  int    `json:"pid"`
	PPid int    `json:"ppid"`
	UID  int    `json:"uid"`
	User string `json:"user,omitempty"` // from the image's /etc/passwd, if there
	// State is /proc/PID/stat's (R, S, D, Z, T, ...).
	State string `json:"state"`
	// StartNanos is when it started, on CLOCK_BOOTTIME.
	StartNanos int64  `json:"startNanos"`
	CPUNanos   uint64 `json:"cpuNanos"` // user + system
	RSSBytes   uint64 `json:"rssBytes"`
	VSZBytes   uint64 `json:"vszBytes"`
	TTY        string `json:"tty,omitempty"` // "pts/0"; "" for none
	// Cmd is the command line, arguments joined by spaces ("[name]" for
	// a kernel thread or a zombie), cut at MaxTopCommand bytes.
	Cmd string `json:"cmd"`
}

// Check bounds a TopResult read from the guest.
func (r *TopResult) Check() error {
	if len(r.Processes) > MaxTopProcesses {
		return fmt.Errorf("top: %d processes, at most %d", len(r.Processes), MaxTopProcesses)
	}
	for _, p := range r.Processes {
		if p.Pid <= 0 || p.PPid < 0 || len(p.Cmd) > MaxTopCommand || len(p.User) > MaxTopUser || len(p.State) > 4 ||
			len(p.TTY) > MaxStatsName {
			return fmt.Errorf("top: bad process %d", p.Pid)
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > MaxStatsName {
		return s[:MaxStatsName] + "..."
	}
	return s
}
