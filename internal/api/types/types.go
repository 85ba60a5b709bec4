// Package types holds the JSON types of hyperd's REST API, shared by the
// server (internal/api), the Go client (internal/client) and hyperctl.
// The API is documented in docs/api.md.
package types

import "time"

// APIVersion prefixes every path: /v1/...
const APIVersion = "v1"

// Pod states. Legal transitions: created -> running -> exited;
// exited -> running (start again); any -> failed (the VM or guest broke);
// failed -> running (start again).
const (
	StateCreated = "created"
	StateRunning = "running"
	StateExited  = "exited"
	StateFailed  = "failed"
)

// ContainerSpec is one container of a pod. Nil Entrypoint/Cmd take the
// image's; an empty Entrypoint slice (not nil) clears it. (omitzero, not
// omitempty: an empty slice must survive the wire as [].)
type ContainerSpec struct {
	Name       string            `json:"name,omitempty"`
	Image      string            `json:"image"`
	Entrypoint []string          `json:"entrypoint,omitzero"`
	Cmd        []string          `json:"cmd,omitzero"`
	Env        []string          `json:"env,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
	User       string            `json:"user,omitempty"`
	Tty        bool              `json:"tty,omitempty"`
	OpenStdin  bool              `json:"openStdin,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`

	// The fields below are optional; pod files (internal/podspec,
	// docs/pod-files.md) fill them.

	// AdditionalGroups are extra groups (names or ids) of User.
	AdditionalGroups []string `json:"additionalGroups,omitempty"`
	// RestartPolicy overrides the pod's for this container: one of the
	// RestartPolicy* values; "" takes the pod's.
	RestartPolicy string `json:"restartPolicy,omitempty"`
	// VolumeMounts mount pod volumes (PodSpec.Volumes) into the container.
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
	// Files put pod files (PodSpec.Files) into the container.
	Files []FileMount `json:"files,omitempty"`
	// Ulimits are the process's resource limits (setrlimit).
	Ulimits []Ulimit `json:"ulimits,omitempty"`
	// Sysctls are kernel parameters ("net.ipv4.ip_forward": "1").
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// StopSignal stops the container ("SIGTERM" when empty).
	StopSignal string `json:"stopSignal,omitempty"`
	// ReadOnlyRootfs mounts the container's root filesystem read-only.
	ReadOnlyRootfs bool `json:"readOnlyRootfs,omitempty"`

	// Security (docs/user-guide.md, "Security"). Without these fields a
	// container gets Docker's defaults: its capabilities, seccomp profile
	// and masked paths.

	// CapAdd and CapDrop change the default capabilities as docker run's
	// --cap-add and --cap-drop: names with or without "CAP_", in any case,
	// or "ALL"; drops apply first.
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// Privileged gives every capability, no seccomp filter (unless
	// SecurityOpt names a profile), no masked paths, /sys read-write and
	// the VM's devices.
	Privileged bool `json:"privileged,omitempty"`
	// SecurityOpt are docker's --security-opt strings:
	// "seccomp=unconfined", "seccomp=builtin", "seccomp=<profile JSON>"
	// (hyperctl sends a FILE's content), "seccomp=localhost/<name>" (a
	// profile in hyperd's seccomp directory), "no-new-privileges[=bool]",
	// "systempaths=unconfined"; "apparmor=..." and "label=..." are
	// accepted and ignored.
	SecurityOpt []string `json:"securityOpt,omitempty"`
	// RunAsNonRoot refuses the container when its user (its own or its
	// image's) is root or not numeric, so cannot be verified as not root
	// (Kubernetes' runAsNonRoot).
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`
	// ShmSizeMB is the size of the container's /dev/shm (run --shm-size);
	// 0 is 64.
	ShmSizeMB int `json:"shmSizeMB,omitempty"`
	// Healthcheck is the container's health check (run --health-*);
	// nil takes the image's HEALTHCHECK, Test ["NONE"] disables it.
	Healthcheck *HealthConfig `json:"healthcheck,omitempty"`
	// Resources are the container's limits in its VM, set by update
	// (update.go); nil: none.
	Resources *Resources `json:"resources,omitempty"`
}

// HealthConfig is docker's health check: Test is ["CMD", args...],
// ["CMD-SHELL", command] or ["NONE"]; zero durations and retries take
// docker's defaults (30 s, 30 s, 0 s, 3).
type HealthConfig struct {
	Test        []string      `json:"test,omitempty"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"startPeriod,omitempty"`
	Retries     int           `json:"retries,omitempty"`
}

// Health states (docker's).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is a container's health (docker's .State.Health).
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"` // the last 5 checks
}

// HealthResult is one check.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Restart policies of a pod or container. RestartPolicyOnFailure may carry
// a retry limit: "onFailure:3".
const (
	RestartPolicyNever     = "never"
	RestartPolicyOnFailure = "onFailure"
	RestartPolicyAlways    = "always"
	// RestartPolicyUnlessStopped is always, but a pod stopped by its user
	// is not started again when hyperd starts (docker's unless-stopped).
	RestartPolicyUnlessStopped = "unlessStopped"
)

// VolumeMount mounts the pod volume Name at MountPath.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// Volume is a pod volume; exactly one source is set.
type Volume struct {
	Name     string                `json:"name"`
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
	EmptyDir *EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	Named    *NamedVolumeSource    `json:"named,omitempty"`
}

// HostPathVolumeSource shares a host file or directory into the pod.
type HostPathVolumeSource struct {
	Path string `json:"path"`
	// Type is Kubernetes' hostPath check: "", "Directory", "File",
	// "DirectoryOrCreate", "FileOrCreate", "Socket".
	Type     string `json:"type,omitempty"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// EmptyDirVolumeSource is a new empty directory that lives and dies with
// the pod.
type EmptyDirVolumeSource struct {
	// Medium is "" (the pod's disk) or "Memory" (tmpfs).
	Medium      string `json:"medium,omitempty"`
	SizeLimitMB int    `json:"sizeLimitMB,omitempty"` // 0: no limit
}

// NamedVolumeSource is a volume managed by hyperd that outlives pods.
type NamedVolumeSource struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// File is a pod file: content that containers get through FileMount.
type File struct {
	Name    string `json:"name"`
	Content []byte `json:"content"` // decoded; base64 on the wire
	// Source says where the content came from ("file:///etc/x",
	// "inline"); informational.
	Source string `json:"source,omitempty"`
}

// MaxFilesSize bounds the content of a pod's files (PodSpec.Files) in
// total, and of the files put into one container (a file mounted twice
// counts twice): they travel in one API request and one guest message.
const MaxFilesSize = 512 << 10

// FileMount puts the pod file Name at Path in a container.
type FileMount struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Perm  string `json:"perm,omitempty"` // octal, e.g. "0644"; "" = 0644
	User  string `json:"user,omitempty"` // owner, name or uid
	Group string `json:"group,omitempty"`
}

// PortMapping publishes container ports on the host. Count consecutive
// ports (0 or 1: one) starting at ContainerPort map to as many starting
// at HostPort. HostPort 0: declared but not published.
type PortMapping struct {
	ContainerPort int `json:"containerPort"`
	HostPort      int `json:"hostPort,omitempty"`
	// HostIP is the host address the ports are bound to; "" is all.
	HostIP   string `json:"hostIP,omitempty"`
	Protocol string `json:"protocol,omitempty"` // "tcp" (default) or "udp"
	Count    int    `json:"count,omitempty"`
}

// DNSConfig is the pod's resolv.conf.
type DNSConfig struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Searches    []string `json:"searches,omitempty"`
	Options     []string `json:"options,omitempty"` // "ndots:2", "rotate"
}

// Ulimit is one rlimit ("nofile", "nproc", ...).
type Ulimit struct {
	Name string `json:"name"`
	Soft int64  `json:"soft"`
	Hard int64  `json:"hard"`
}

// PodSpec describes a pod: one VM and its containers.
type PodSpec struct {
	Name       string            `json:"name,omitempty"`
	Hostname   string            `json:"hostname,omitempty"`
	Containers []ContainerSpec   `json:"containers"`
	VCPUs      int               `json:"vcpus,omitempty"`    // default 1
	MemoryMB   int               `json:"memoryMB,omitempty"` // default 256
	Labels     map[string]string `json:"labels,omitempty"`
	// AutoRemove removes the pod once it has exited (run --rm).
	AutoRemove bool `json:"autoRemove,omitempty"`

	// The fields below are optional; pod files (internal/podspec,
	// docs/pod-files.md) fill them.

	// InitContainers run one after the other, each to a successful end,
	// before Containers start.
	InitContainers []ContainerSpec `json:"initContainers,omitempty"`
	// RestartPolicy is one of the RestartPolicy* values ("" = never).
	RestartPolicy string        `json:"restartPolicy,omitempty"`
	Volumes       []Volume      `json:"volumes,omitempty"`
	Files         []File        `json:"files,omitempty"`
	Ports         []PortMapping `json:"ports,omitempty"`
	DNS           *DNSConfig    `json:"dns,omitempty"`
	// Network is the pod's network mode: NetworkUser, NetworkBridge or
	// NetworkNone; "" takes hyperd's default (configuration key network).
	Network string `json:"network,omitempty"`
	// HostAliases are extra /etc/hosts entries (run --add-host).
	HostAliases []HostAlias `json:"hostAliases,omitempty"`
	// StopTimeout is the grace period in seconds of a stop that names
	// none (run --stop-timeout); 0 is 10 s.
	StopTimeout int `json:"stopTimeout,omitempty"`
	// PublishAll publishes every port its containers' images EXPOSE and
	// Ports does not, each on a free host port chosen at create (run -P);
	// the chosen ones are added to Ports.
	PublishAll bool `json:"publishAll,omitempty"`
	// Log rotates the pod's container logs (run --log-opt); nil or zero
	// fields take hyperd's configuration.
	Log *LogConfig `json:"log,omitempty"`
}

// LogConfig is a pod's log rotation: a container's log file is rotated
// at MaxSize bytes, MaxFiles files kept (the current one included).
type LogConfig struct {
	MaxSize  int64 `json:"maxSize,omitempty"`
	MaxFiles int   `json:"maxFiles,omitempty"`
}

// HostGateway, as a HostAlias's IP, is the host's address as the pod
// reaches it in its network mode (docker's --add-host NAME:host-gateway).
const HostGateway = "host-gateway"

// HostAlias is one /etc/hosts entry of a pod (Kubernetes' hostAliases).
type HostAlias struct {
	IP        string   `json:"ip"` // an IP address, or HostGateway
	Hostnames []string `json:"hostnames"`
}

// Network modes of a pod (docs/networking.md).
const (
	NetworkUser = "user" // user-mode NIC (QEMU slirp): NAT out, published ports in
	NetworkNone = "none" // loopback only
	// NetworkBridge: a tap on hyperd's bridge, an address of its subnet,
	// NAT out and DNAT for published ports (nftables); pods reach each
	// other by address.
	NetworkBridge = "bridge"
)

// PortBinding is one published port of a running pod.
type PortBinding struct {
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp" or "udp"
	HostIP        string `json:"hostIP"`   // "0.0.0.0": all addresses
	HostPort      int    `json:"hostPort"`
}

// Pod is a pod as hyperd reports it.
type Pod struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	State      string      `json:"state"`
	Created    time.Time   `json:"created"`
	StartedAt  time.Time   `json:"startedAt,omitzero"`
	FinishedAt time.Time   `json:"finishedAt,omitzero"`
	ExitCode   int         `json:"exitCode"`
	Reason     string      `json:"reason,omitempty"` // why it exited or failed
	Spec       PodSpec     `json:"spec"`
	Containers []Container `json:"containers"`
	VM         VMInfo      `json:"vm"`
	// Network is the mode of the pod's last run, Ports its published
	// ports (one per port of a range).
	Network string        `json:"network,omitempty"`
	Ports   []PortBinding `json:"ports,omitempty"`
	// IPAddress is the pod's address on the bridge while it runs in
	// bridge mode.
	IPAddress string `json:"ipAddress,omitempty"`
	// InitContainers are the states of Spec.InitContainers in the last
	// run; they ran to completion, in order, before Containers started.
	InitContainers []Container `json:"initContainers,omitempty"`
	// Paused: the running pod's VM is paused (State stays "running", as
	// docker's State.Running; POST /v1/pods/{id}/unpause).
	Paused bool `json:"paused,omitempty"`
}

// Container is one container's state.
type Container struct {
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	ImageID  string   `json:"imageId"`
	State    string   `json:"state"`
	ExitCode int      `json:"exitCode"`
	Pid      int      `json:"pid,omitempty"` // in the VM
	Command  []string `json:"command"`
	// RestartCount is how often the restart policy restarted the
	// container's main process in the pod's current (or last) run.
	RestartCount int `json:"restartCount,omitempty"`
	// Init marks an init container (Pod.InitContainers).
	Init bool `json:"init,omitempty"`
	// OOMKilled: its main process's last run ended with an OOM kill in
	// the VM (exit code 137).
	OOMKilled bool `json:"oomKilled,omitempty"`
	// Health is the container's health while its pod runs with a check.
	Health *Health `json:"health,omitempty"`
}

// VMInfo describes a pod's VM.
type VMInfo struct {
	Pid   int    `json:"pid,omitempty"` // hypervisor process
	Accel string `json:"accel,omitempty"`
}

// CreateResponse answers POST /v1/pods and POST /v1/pods/{id}/exec.
type CreateResponse struct {
	ID       string   `json:"id"`
	Warnings []string `json:"warnings,omitempty"`
}

// ExecSpec is an extra process in a running pod's container (or VM).
type ExecSpec struct {
	Container  string   `json:"container,omitempty"` // default: the first
	Cmd        []string `json:"cmd"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	Stdin      bool     `json:"stdin,omitempty"`
	// VM runs the command in the pod's VM itself, outside every container:
	// in hyperstart's root filesystem (busybox) and namespaces, as root
	// (Container must be empty).
	VM bool `json:"vm,omitempty"`
	// Privileged gives the process every capability (docker exec
	// --privileged); it keeps the container's seccomp filter and
	// no-new-privileges, as docker's does.
	Privileged bool `json:"privileged,omitempty"`
}

// ExecInfo reports an exec.
type ExecInfo struct {
	ID       string `json:"id"`
	PodID    string `json:"podId"`
	Running  bool   `json:"running"`
	ExitCode int    `json:"exitCode"`
	// Tty: the exec has a terminal. The server streams it raw (else
	// stdcopy-framed), so the backend must report it.
	Tty bool `json:"tty,omitempty"`
}

// WaitResponse answers the wait endpoints.
type WaitResponse struct {
	ExitCode int    `json:"exitCode"`
	Reason   string `json:"reason,omitempty"`
	// Error is set when the wait failed after the response headers were
	// sent (the status code could no longer say so).
	Error *Error `json:"error,omitempty"`
}

// Image is one image in the store.
type Image struct {
	ID      string    `json:"id"` // sha256:...
	Names   []string  `json:"names"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// LoadResponse answers POST /v1/images/load.
type LoadResponse struct {
	Images []Image `json:"images"`
}

// Info answers GET /v1/info.
type Info struct {
	Version           string `json:"version"`
	Hypervisor        string `json:"hypervisor"`
	HypervisorVersion string `json:"hypervisorVersion"`
	Accel             string `json:"accel"`
	AccelReason       string `json:"accelReason"`
	Kernel            string `json:"kernel"`
	Initrd            string `json:"initrd"`
	Root              string `json:"root"`
	Pods              int    `json:"pods"`
	PodsRunning       int    `json:"podsRunning"`
	Images            int    `json:"images"`
	// Bridge describes the bridge network (mode bridge).
	Bridge BridgeInfo `json:"bridge"`
	// Isolation says what stands between a pod's code and the host.
	Isolation Isolation `json:"isolation"`
	// API lists hyperd's listeners and how each is guarded.
	API []APIListener `json:"api"`
}

// Isolation is what the acceleration in use means for security.
type Isolation struct {
	// Mechanism is "hardware virtualization" (KVM) or "software
	// emulation" (TCG).
	Mechanism string `json:"mechanism"`
	// SecurityBoundary is whether QEMU treats the mode as a security
	// boundary between guest and host: KVM yes, TCG no
	// (https://www.qemu.org/docs/master/system/security.html).
	SecurityBoundary bool   `json:"securityBoundary"`
	Note             string `json:"note"`
}

// APIListener is one address hyperd serves its API on.
type APIListener struct {
	Host string `json:"host"` // unix:///path or tcp://host:port
	// Security: "unix socket, mode 0660, group hyper", "mutual TLS",
	// "plain TCP, no authentication", ...
	Security string `json:"security"`
}

// BridgeInfo is the bridge network: its bridge, subnet and the IPAM's
// leases.
type BridgeInfo struct {
	Name   string        `json:"name"`
	Subnet string        `json:"subnet"`
	Leases []BridgeLease `json:"leases,omitempty"`
}

// BridgeLease is one pod's address.
type BridgeLease struct {
	Pod     string `json:"pod"`
	Address string `json:"address"`
}

// Version answers GET /v1/version.
type Version struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
	GoVersion  string `json:"goVersion"`
	Os         string `json:"os"`
	Arch       string `json:"arch"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Message string `json:"message"`
}

// LogEntry is one line of GET /v1/pods/{id}/logs, a stream of
// newline-delimited JSON (see docs/api.md).
type LogEntry struct {
	Container string    `json:"container"`
	Stream    string    `json:"stream"`
	Time      time.Time `json:"time"`
	Log       string    `json:"log"`
}

// LogOptions select log entries.
type LogOptions struct {
	Container  string
	Follow     bool
	Tail       int // <= 0: all
	Since      time.Time
	Timestamps bool
}

// Media types of the upgraded streams (attach, exec start): the 101
// response's Content-Type says how the server frames its output.
const (
	// MediaTypeRawStream: a terminal; raw bytes both ways.
	MediaTypeRawStream = "application/vnd.hyper.raw-stream"
	// MediaTypeMultiplexedStream: output in stdcopy frames, stdin raw.
	MediaTypeMultiplexedStream = "application/vnd.hyper.multiplexed-stream"
)

// HeaderError is the HTTP trailer that reports an error after a streamed
// body (logs, image save) began.
const HeaderError = "Hyper-Error"

// ContainerRef answers GET /v1/containers/{ref}: the pod and container a
// reference names (a pod, POD/CONTAINER, or a container name unique
// across pods).
type ContainerRef struct {
	PodID     string `json:"podId"`
	PodName   string `json:"podName,omitempty"`
	Container string `json:"container"`
}

// PodPruneResponse answers POST /v1/pods/prune.
type PodPruneResponse struct {
	Deleted   []string `json:"deleted"`   // pod IDs
	Reclaimed int64    `json:"reclaimed"` // bytes their directories held
}
