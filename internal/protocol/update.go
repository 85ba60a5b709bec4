package protocol

import "fmt"

// MethodUpdateContainer changes the cgroup v2 limits of a created or
// running container: UpdateRequest -> Empty. An unknown container is
// not_found.
const MethodUpdateContainer = "UpdateContainer"

// Bounds on Resources.
const (
	// MinCPUPeriodUsec and MaxCPUPeriodUsec bound cpu.max's period (the
	// kernel's); DefaultCPUPeriodUsec is used when none is given.
	MinCPUPeriodUsec     = 1000
	MaxCPUPeriodUsec     = 1000000
	DefaultCPUPeriodUsec = 100000
	// MinCPUQuotaUsec is the kernel's smallest cpu.max quota.
	MinCPUQuotaUsec = 1000
	// MinMemoryBytes is the smallest memory.max (docker's 6 MiB).
	MinMemoryBytes = 6 << 20
	maxLimit       = 1 << 50
)

// Resources are a container's cgroup v2 limits. A nil field leaves the
// limit as it is; a pointer to 0 removes it (the file is set to "max").
type Resources struct {
	// CPUQuotaUsec per CPUPeriodUsec (0: DefaultCPUPeriodUsec) is cpu.max.
	CPUQuotaUsec  *uint64 `json:"cpuQuotaUsec,omitempty"`
	CPUPeriodUsec uint64  `json:"cpuPeriodUsec,omitempty"`
	// MemoryMaxBytes is memory.max.
	MemoryMaxBytes *uint64 `json:"memoryMaxBytes,omitempty"`
	// PidsMax is pids.max.
	PidsMax *uint64 `json:"pidsMax,omitempty"`
}

// UpdateRequest sets limits of a container.
type UpdateRequest struct {
	Container string    `json:"container"`
	Resources Resources `json:"resources"`
}

// Period is cpu.max's period of r.
func (r Resources) Period() uint64 {
	if r.CPUPeriodUsec == 0 {
		return DefaultCPUPeriodUsec
	}
	return r.CPUPeriodUsec
}

// Empty reports whether r changes nothing.
func (r Resources) Empty() bool {
	return r.CPUQuotaUsec == nil && r.MemoryMaxBytes == nil && r.PidsMax == nil
}

// Check bounds r's values.
func (r Resources) Check() error {
	if p := r.CPUPeriodUsec; p != 0 && (p < MinCPUPeriodUsec || p > MaxCPUPeriodUsec) {
		return fmt.Errorf("cpu period %dus: want %d to %d", p, MinCPUPeriodUsec, MaxCPUPeriodUsec)
	}
	if q := r.CPUQuotaUsec; q != nil && *q != 0 && (*q < MinCPUQuotaUsec || *q > maxLimit) {
		return fmt.Errorf("cpu quota %dus: want at least %d", *q, MinCPUQuotaUsec)
	}
	if m := r.MemoryMaxBytes; m != nil && *m != 0 && (*m < MinMemoryBytes || *m > maxLimit) {
		return fmt.Errorf("memory limit %d bytes: want at least %d (6MiB)", *m, MinMemoryBytes)
	}
	if p := r.PidsMax; p != nil && *p > 1<<22 {
		return fmt.Errorf("pids limit %d: want at most %d", *p, 1<<22)
	}
	return nil
}

// Merge is r with the limits u sets replacing r's.
func (r Resources) Merge(u Resources) Resources {
	if u.CPUQuotaUsec != nil {
		r.CPUQuotaUsec, r.CPUPeriodUsec = u.CPUQuotaUsec, u.CPUPeriodUsec
	}
	if u.MemoryMaxBytes != nil {
		r.MemoryMaxBytes = u.MemoryMaxBytes
	}
	if u.PidsMax != nil {
		r.PidsMax = u.PidsMax
	}
	return r
}
