// Package podrec is the schema of hyperd's pod records: what the state
// database keeps of a pod, one JSON record per pod ID in the pods bucket.
// Its types are hyperd's own, apart from the REST API's (internal/api/types)
// and the guest protocol's (internal/protocol), so that a change to either
// does not change the database; the daemon converts between them.
//
// A record carries its Version. Within a version the types' JSON does not
// change, but for fields added that older records lack (read as zero). Any
// other change is a new Version: Decode reads the older versions and
// upgrades them, one version to the next, and the daemon rewrites them at
// start (Upgrade). A type that a new version changes is copied first, so
// that the readers of older versions keep the shape they read.
package podrec

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the version of the records this package writes.
const Version = 2

// Pod is one pod's record.
type Pod struct {
	Version int       `json:"version"`
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Dir holds the pod's files on the host (logs, scratch disk); VMID
	// names its VM (short: it is part of socket paths).
	Dir  string  `json:"dir"`
	VMID string  `json:"vmId"`
	Spec PodSpec `json:"spec"`
	// InitContainers run one after the other before Containers start.
	InitContainers []Container `json:"initContainers,omitempty"`
	Containers     []Container `json:"containers"`
	// VolumePlan is how the pod's volumes reach its VM, decided at create.
	VolumePlan []VolumePlan `json:"volumePlan,omitempty"`
	// Status is the pod's current (or last) run.
	Status PodStatus `json:"status"`
}

// PodSpec is the pod's settings as they were created, defaults filled in
// (its name is the pod's, its containers are Pod's).
type PodSpec struct {
	Hostname      string            `json:"hostname,omitempty"`
	VCPUs         int               `json:"vcpus,omitempty"`    // 0: the daemon's default
	MemoryMB      int               `json:"memoryMB,omitempty"` // 0: the daemon's default
	Labels        map[string]string `json:"labels,omitempty"`
	AutoRemove    bool              `json:"autoRemove,omitempty"`
	RestartPolicy string            `json:"restartPolicy,omitempty"`
	Volumes       []Volume          `json:"volumes,omitempty"`
	Files         []File            `json:"files,omitempty"`
	Ports         []PortMapping     `json:"ports,omitempty"`
	DNS           *DNS              `json:"dns,omitempty"`
	Network       string            `json:"network,omitempty"` // "": the daemon's default
	HostAliases   []HostAlias       `json:"hostAliases,omitempty"`
	StopTimeout   int               `json:"stopTimeout,omitempty"` // seconds; 0: the default
	Log           *LogConfig        `json:"log,omitempty"`
	PublishAll    bool              `json:"publishAll,omitempty"` // its ports are in Ports already
}

// LogConfig is the pod's own log rotation.
type LogConfig struct {
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
}

// HostAlias is an extra /etc/hosts entry.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

// Volume is a pod volume; one source is set.
type Volume struct {
	Name     string          `json:"name"`
	HostPath *HostPathVolume `json:"hostPath,omitempty"`
	EmptyDir *EmptyDirVolume `json:"emptyDir,omitempty"`
	Named    *NamedVolume    `json:"named,omitempty"`
}

// HostPathVolume shares a host file or directory into the pod.
type HostPathVolume struct {
	Path     string `json:"path"`
	Type     string `json:"type,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// EmptyDirVolume is a directory that lives and dies with the pod.
type EmptyDirVolume struct {
	Medium      string `json:"medium,omitempty"`
	SizeLimitMB int    `json:"sizeLimitMB,omitempty"`
}

// NamedVolume is a volume of hyperd's that outlives pods.
type NamedVolume struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// File is a pod file's content, which FileMount puts into containers.
type File struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
	Source  string `json:"source,omitempty"`
}

// PortMapping is a port range the pod publishes (HostPort 0: declared
// only).
type PortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
	Count         int    `json:"count,omitempty"`
}

// DNS is the pod's resolver configuration.
type DNS struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Searches    []string `json:"searches,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Container is one container: its spec, what its creation resolved of its
// image, and its state in the pod's current (or last) run.
type Container struct {
	Spec    ContainerSpec `json:"spec"`
	ImageID string        `json:"imageId"`
	// Process is the main process, resolved against the image.
	Process Process         `json:"process"`
	Status  ContainerStatus `json:"status"`
}

// ContainerSpec is a container as it was created, defaults filled in
// (name, the image's stop signal and labels). Nil Entrypoint and Cmd took
// the image's, empty ones cleared them: omitzero keeps the difference.
type ContainerSpec struct {
	Name             string            `json:"name"`
	Image            string            `json:"image"` // as given
	Entrypoint       []string          `json:"entrypoint,omitzero"`
	Cmd              []string          `json:"cmd,omitzero"`
	Env              []string          `json:"env,omitempty"`
	WorkingDir       string            `json:"workingDir,omitempty"`
	User             string            `json:"user,omitempty"`
	Tty              bool              `json:"tty,omitempty"`
	OpenStdin        bool              `json:"openStdin,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	AdditionalGroups []string          `json:"additionalGroups,omitempty"`
	RestartPolicy    string            `json:"restartPolicy,omitempty"`
	VolumeMounts     []VolumeMount     `json:"volumeMounts,omitempty"`
	Files            []FileMount       `json:"files,omitempty"`
	Ulimits          []Ulimit          `json:"ulimits,omitempty"`
	Sysctls          map[string]string `json:"sysctls,omitempty"`
	StopSignal       string            `json:"stopSignal,omitempty"`
	ReadOnlyRootfs   bool              `json:"readOnlyRootfs,omitempty"`
	CapAdd           []string          `json:"capAdd,omitempty"`
	CapDrop          []string          `json:"capDrop,omitempty"`
	Privileged       bool              `json:"privileged,omitempty"`
	SecurityOpt      []string          `json:"securityOpt,omitempty"`
	RunAsNonRoot     bool              `json:"runAsNonRoot,omitempty"`
	Healthcheck      *Healthcheck      `json:"healthcheck,omitempty"`
	Resources        *Resources        `json:"resources,omitempty"`
	ShmSizeMB        int               `json:"shmSizeMB,omitempty"`
}

// Resources are a container's limits (0: none).
type Resources struct {
	NanoCPUs    int64 `json:"nanoCpus,omitempty"`
	MemoryBytes int64 `json:"memoryBytes,omitempty"`
	PidsLimit   int64 `json:"pidsLimit,omitempty"`
}

// Healthcheck is a container's health check (docker's).
type Healthcheck struct {
	Test        []string      `json:"test,omitempty"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"startPeriod,omitempty"`
	Retries     int           `json:"retries,omitempty"`
}

// VolumeMount mounts the pod volume Name at MountPath.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// FileMount puts the pod file Name at Path.
type FileMount struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Perm  string `json:"perm,omitempty"`
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// Ulimit is one resource limit as the spec names it ("nofile").
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// Process is a process as the guest runs it.
type Process struct {
	Args             []string `json:"args"`
	Env              []string `json:"env,omitempty"`
	Cwd              string   `json:"cwd,omitempty"`
	User             string   `json:"user,omitempty"`
	AdditionalGroups []string `json:"additionalGroups,omitempty"`
	Terminal         bool     `json:"terminal,omitempty"`
	Stdin            bool     `json:"stdin,omitempty"`
	Rlimits          []Rlimit `json:"rlimits,omitempty"`
	// The security the container was created with (records older than
	// these fields have none: the daemon fills in the defaults at load).
	Capabilities    *Capabilities `json:"capabilities,omitempty"`
	NoNewPrivileges bool          `json:"noNewPrivileges,omitempty"`
	Seccomp         []byte        `json:"seccomp,omitempty"` // the compiled BPF program
	OOMScoreAdj     *int          `json:"oomScoreAdj,omitempty"`
	Umask           *uint32       `json:"umask,omitempty"`
}

// Capabilities are a process's capability sets ("CAP_CHOWN").
type Capabilities struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// Rlimit is one resource limit as the guest sets it ("RLIMIT_NOFILE").
type Rlimit struct {
	Type string `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// ContainerStatus is a container's state in the pod's run.
type ContainerStatus struct {
	State        string `json:"state"`
	ExitCode     int    `json:"exitCode"`
	Pid          int    `json:"pid,omitempty"` // in the VM
	RestartCount int    `json:"restartCount,omitempty"`
	OOMKilled    bool   `json:"oomKilled,omitempty"`
}

// PodStatus is the pod's state and its current (or last) run's.
type PodStatus struct {
	State      string    `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	VM         VM        `json:"vm"`
	// Network is the run's mode, Ports its published ports, IPAddress
	// its bridge address while it runs.
	Network   string        `json:"network,omitempty"`
	Ports     []PortBinding `json:"ports,omitempty"`
	IPAddress string        `json:"ipAddress,omitempty"`
	// Serials maps the run's image IDs to their disks' serials; nil in
	// records older than serials (omitzero keeps nil apart from empty).
	Serials map[string]string `json:"serials,omitzero"`
	// UserStopped: the pod's user stopped (or killed) it and has not
	// started it since (restart policy unlessStopped).
	UserStopped bool `json:"userStopped,omitempty"`
	// Paused: the running pod's VM is paused.
	Paused bool `json:"paused,omitempty"`
}

// VM is the run's VM.
type VM struct {
	Pid   int    `json:"pid,omitempty"` // the hypervisor's process
	Accel string `json:"accel,omitempty"`
}

// PortBinding is one published port.
type PortBinding struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP"`
	HostPort      int    `json:"hostPort"`
}

// VolumePlan is how one pod volume reaches the VM: a share entry of the
// pod's 9p share (HostPath, created at start if Create), a named volume's
// disk (Volume, Serial), or a scratch directory (FSType, SizeMB).
type VolumePlan struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // "share", "disk" or "scratch"
	HostPath string `json:"hostPath,omitempty"`
	Create   bool   `json:"create,omitempty"`
	File     bool   `json:"file,omitempty"`
	Volume   string `json:"volume,omitempty"`
	Serial   string `json:"serial,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	FSType   string `json:"fsType,omitempty"`
	SizeMB   int    `json:"sizeMB,omitempty"`
}

// Decode reads a record of any version up to Version, upgraded to the
// current one.
func Decode(raw []byte) (Pod, error) {
	v, err := version(raw)
	if err != nil {
		return Pod{}, err
	}
	if v == 1 {
		var r podV1
		if err := json.Unmarshal(raw, &r); err != nil {
			return Pod{}, fmt.Errorf("decoding a version 1 pod record: %w", err)
		}
		return r.upgrade()
	}
	var p Pod
	if err := json.Unmarshal(raw, &p); err != nil {
		return Pod{}, fmt.Errorf("decoding a pod record: %w", err)
	}
	return p, nil
}

// Upgrade returns record raw as the current version's, or nil if it is of
// the current version already.
func Upgrade(raw []byte) ([]byte, error) {
	v, err := version(raw)
	if err != nil || v == Version {
		return nil, err
	}
	p, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// version is the version of record raw: version 1 had no field for it.
func version(raw []byte) (int, error) {
	var r struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, fmt.Errorf("decoding a pod record: %w", err)
	}
	switch v := r.Version; {
	case v == nil:
		return 1, nil
	case *v > Version:
		return 0, fmt.Errorf("pod record of version %d, written by a newer hyperd: this one reads versions 1 to %d (the record is left as it is)", *v, Version)
	case *v < 2:
		return 0, fmt.Errorf("pod record of version %d: no such version", *v)
	default:
		return *v, nil
	}
}
