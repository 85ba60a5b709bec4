package types

import "time"

// VolumeInfo is a named volume managed by hyperd: a sparse ext4 disk image
// attached to the pods using it (docs/user-guide.md, Volumes).
type VolumeInfo struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	Driver  string            `json:"driver"` // "local"
	Format  string            `json:"format"` // "ext4"
	Disk    string            `json:"disk"`   // the disk image on the host
	Serial  string            `json:"serial"` // the disk's serial in the guest
	SizeMB  int               `json:"sizeMB"` // apparent size; the file is sparse
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
	// UsedBy names the pods that use the volume, RunningIn the one whose
	// VM has it attached now ("" if none).
	UsedBy    []string `json:"usedBy"`
	RunningIn string   `json:"runningIn,omitempty"`
}

// VolumeCreateRequest is POST /v1/volumes.
type VolumeCreateRequest struct {
	Name   string            `json:"name"`
	SizeMB int               `json:"sizeMB,omitempty"` // 0: the daemon's default
	Labels map[string]string `json:"labels,omitempty"`
}
