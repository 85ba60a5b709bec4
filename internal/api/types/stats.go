package types

import "time"

// PodStats is one reading of a running pod (GET /v1/pods/{id}/stats):
// its containers' cgroup figures in the guest, the guest's network and
// memory, and what its VM costs the host. Counters are cumulative; rates
// (CPU %) come from two readings.
type PodStats struct {
	ID   string    `json:"id"`
	Name string    `json:"name"`
	Read time.Time `json:"read"` // host clock
	// GuestNanos is the guest's monotonic clock at the reading: container
	// CPU deltas are over its deltas.
	GuestNanos int64            `json:"guestNanos"`
	Containers []ContainerStats `json:"containers"`
	Networks   []NetworkStats   `json:"networks,omitempty"`
	VM         VMStats          `json:"vm"`
}

// ContainerStats are one container's cgroup v2 figures in the guest.
type ContainerStats struct {
	Name    string       `json:"name"`
	CPU     CPUStats     `json:"cpu"`
	Memory  MemoryStats  `json:"memory"`
	Pids    PidsStats    `json:"pids"`
	BlockIO BlockIOStats `json:"blockIO"`
}

// CPUStats are cpu.stat's, in nanoseconds.
type CPUStats struct {
	UsageNanos       uint64 `json:"usageNanos"`
	UserNanos        uint64 `json:"userNanos"`
	SystemNanos      uint64 `json:"systemNanos"`
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledNanos   uint64 `json:"throttledNanos,omitempty"`
}

// MemoryStats are memory.current (Usage), memory.max (Limit; 0: none, the
// VM's memory is the limit), part of memory.stat and memory.events.
type MemoryStats struct {
	Usage        uint64 `json:"usage"`
	Limit        uint64 `json:"limit,omitempty"`
	Anon         uint64 `json:"anon"`
	File         uint64 `json:"file"`
	Kernel       uint64 `json:"kernel,omitempty"`
	Shmem        uint64 `json:"shmem,omitempty"`
	InactiveFile uint64 `json:"inactiveFile,omitempty"`
	PgFault      uint64 `json:"pgfault,omitempty"`
	PgMajFault   uint64 `json:"pgmajfault,omitempty"`
	OOM          uint64 `json:"oom,omitempty"`
	OOMKill      uint64 `json:"oomKill,omitempty"`
}

// PidsStats are pids.current and pids.max (0: no limit).
type PidsStats struct {
	Current uint64 `json:"current"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlockIOStats are io.stat's, summed over the guest's disks.
type BlockIOStats struct {
	ReadBytes  uint64 `json:"readBytes"`
	WriteBytes uint64 `json:"writeBytes"`
	ReadOps    uint64 `json:"readOps"`
	WriteOps   uint64 `json:"writeOps"`
}

// NetworkStats are one guest interface's counters (the pod's: its
// containers share them).
type NetworkStats struct {
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

// VMStats are the VM's figures: the guest's memory and CPUs, and the
// hypervisor process's cost on the host (0 when unreadable).
type VMStats struct {
	Pid               int    `json:"pid,omitempty"`
	CPUs              int    `json:"cpus"`
	MemTotalBytes     uint64 `json:"memTotalBytes"`
	MemAvailableBytes uint64 `json:"memAvailableBytes"`
	HostCPUNanos      uint64 `json:"hostCPUNanos"`
	HostRSSBytes      uint64 `json:"hostRSSBytes"`
}

// TopResponse lists a container's processes (GET /v1/pods/{id}/top).
type TopResponse struct {
	Container string    `json:"container"`
	Processes []Process `json:"processes"`
	// Uptime is the VM's: a process's age is Uptime - Start.
	Uptime        time.Duration `json:"uptime"`
	MemTotalBytes uint64        `json:"memTotalBytes"`
}

// Process is one process of a container, pids in the pod's VM.
type Process struct {
	Pid   int    `json:"pid"`
	PPid  int    `json:"ppid"`
	UID   int    `json:"uid"`
	User  string `json:"user,omitempty"`
	State string `json:"state"`
	// Start is when it started, as VM uptime.
	Start    time.Duration `json:"start"`
	CPUTime  time.Duration `json:"cpuTime"`
	RSSBytes uint64        `json:"rssBytes"`
	VSZBytes uint64        `json:"vszBytes"`
	TTY      string        `json:"tty,omitempty"`
	Cmd      string        `json:"cmd"`
}
