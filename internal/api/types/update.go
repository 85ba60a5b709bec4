package types

// Resources are a container's cgroup limits in its VM, as docker's
// HostConfig has them. 0 is no limit.
type Resources struct {
	// NanoCPUs is CPU time in units of 1e-9 CPUs (docker's NanoCpus):
	// 500000000 is half a CPU.
	NanoCPUs    int64 `json:"nanoCpus,omitempty"`
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	PidsLimit   int64 `json:"pidsLimit,omitempty"`
}

// UpdateRequest is the body of POST /v1/pods/{id}/update: the limits to
// change of Container ("": every container of the pod). A field left out
// is not changed; 0 or a negative value removes the limit.
type UpdateRequest struct {
	Container   string   `json:"container,omitempty"`
	CPUs        *float64 `json:"cpus,omitempty"`
	MemoryBytes *int64   `json:"memoryBytes,omitempty"`
	PidsLimit   *int64   `json:"pidsLimit,omitempty"`
}
