package protocol

import (
	"encoding/json"
	"fmt"
)

// Stream kinds.
const (
	KindRPC   = "rpc"
	KindStdio = "stdio"
)

// Standard stream names used in StreamHeader.Stdio.
const (
	Stdin  = "stdin"
	Stdout = "stdout" // with a terminal: the terminal's output
	Stderr = "stderr"
)

// InitExec is the ExecID of a container's first process. That process
// creates the container's mount namespace; the container runs as long as it
// does.
const InitExec = "init"

// VMContainer is the container name of processes run in the VM itself,
// in hyperstart's root and namespaces, outside every container (hyperctl
// exec --vm). No container can have it: container ids cannot start with
// '-'. It is accepted by ExecProcess (not with InitExec), WaitProcess,
// AttachProcess, SignalProcess, ResizeTerminal and stdio streams only.
const VMContainer = "-vm"

// StreamHeader is the first frame on every stream the host opens.
type StreamHeader struct {
	Kind      string `json:"kind"`
	Method    string `json:"method,omitempty"`    // KindRPC
	Container string `json:"container,omitempty"` // KindStdio
	Exec      string `json:"exec,omitempty"`      // KindStdio
	Stdio     string `json:"stdio,omitempty"`     // KindStdio
}

// Response is the guest's answer on an rpc stream. Exactly one of Error and
// Result is meaningful.
type Response struct {
	Error  *Error          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Error codes. The host maps them onto its errdefs.
const (
	CodeNotFound        = "not_found"
	CodeInvalidArgument = "invalid_argument"
	CodeConflict        = "conflict"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// Error is an error returned by the guest.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("guest: %s (%s)", e.Message, e.Code) }

// Methods. Each names its request and result types.
const (
	MethodPing            = "Ping"            // Empty -> Empty
	MethodCreatePod       = "CreatePod"       // PodSpec -> Empty
	MethodCreateContainer = "CreateContainer" // ContainerSpec -> Empty
	MethodExecProcess     = "ExecProcess"     // ExecRequest -> ExecResult
	MethodWaitProcess     = "WaitProcess"     // ProcessRef -> ExitStatus
	MethodAttachProcess   = "AttachProcess"   // ProcessRef -> Empty: new stdio streams for a running process
	MethodSignalProcess   = "SignalProcess"   // SignalRequest -> Empty
	MethodResizeTerminal  = "ResizeTerminal"  // ResizeRequest -> Empty
	MethodStopContainer   = "StopContainer"   // StopRequest -> Empty
	MethodRemoveContainer = "RemoveContainer" // ContainerRef -> Empty
	MethodShutdown        = "Shutdown"        // Empty -> Empty, then the VM powers off
	MethodResume          = "Resume"          // ResumeRequest -> Empty: the host's first call on a new VM
)

// ResumeRequest brings a new guest up to date: a VM restored from a
// template (docs/adr/0009-vm-templates.md) wakes with the template's clock,
// random state and NIC addresses. The host sends it first on every new VM.
type ResumeRequest struct {
	// WallNanos is the host's wall clock, nanoseconds since the Unix epoch.
	WallNanos int64 `json:"wallNanos"`
	// Entropy is fresh random bytes (MinEntropy to MaxEntropy), credited to
	// the guest kernel's pool, which is then reseeded.
	Entropy []byte `json:"entropy"`
	// MACs gives NICs the addresses the pod expects (at most 8).
	MACs []MACChange `json:"macs,omitempty"`
}

// Bounds of ResumeRequest.Entropy.
const (
	MinEntropy = 32
	MaxEntropy = 512
)

// MACChange sets the MAC address of the NIC that has From to To.
type MACChange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Empty is the request or result of methods that carry nothing.
type Empty struct{}

// PodSpec configures the pod once the VM is ready. Nothing in it is known
// at boot, so a booted VM can serve any pod.
type PodSpec struct {
	Hostname string      `json:"hostname"`
	Hosts    []HostEntry `json:"hosts,omitempty"` // extra /etc/hosts lines
	DNS      DNSConfig   `json:"dns"`
	// ScratchDisk is the serial of a block device holding the containers'
	// writable layers. Empty: a tmpfs is used instead.
	ScratchDisk string `json:"scratchDisk,omitempty"`
	// Interfaces are the pod's network interfaces, each found by its MAC
	// address. None: the pod has only loopback.
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Sysctls are namespaced kernel parameters ("net.ipv4.ip_forward":
	// "1", see internal/sysctl) set in the pod's network and IPC
	// namespaces before any container starts.
	Sysctls map[string]string `json:"sysctls,omitempty"`
}

// Interface configures one guest NIC.
type Interface struct {
	MAC     string `json:"mac"`               // "02:xx:..", how the guest finds the NIC
	Address string `json:"address"`           // IPv4 CIDR, "10.0.2.15/24"
	Gateway string `json:"gateway,omitempty"` // default route via this IPv4 address
	MTU     int    `json:"mtu,omitempty"`     // 0: leave the driver's
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// DNSConfig is written to /etc/resolv.conf.
type DNSConfig struct {
	Servers []string `json:"servers,omitempty"`
	Search  []string `json:"search,omitempty"`
	Options []string `json:"options,omitempty"`
}

// ContainerSpec prepares a container's root filesystem.
type ContainerSpec struct {
	ID     string     `json:"id"`
	Rootfs RootfsSpec `json:"rootfs"`
	// Mounts are the container's volumes, mounted in its mount namespace
	// before its first process runs.
	Mounts []Mount `json:"mounts,omitempty"`
	// Files are written into the root filesystem (its writable layer)
	// before any process starts; with Rootfs.ReadOnly the root is made
	// read-only after. Their content must fit in the request's frame
	// (MaxFrameSize, base64 on the wire).
	Files []FileSpec `json:"files,omitempty"`
	// MaskedPaths are hidden from the container's processes once its
	// /proc and /sys are mounted: a file gets /dev/null bound over it, a
	// directory an empty read-only tmpfs. A path that does not exist is
	// skipped. ReadonlyPaths are bound read-only onto themselves. Both
	// are absolute paths in the container; the host fills them (Docker's
	// defaults unless privileged).
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// Privileged mounts /sys read-write and gives /dev the VM's devices;
	// otherwise /sys is read-only and /dev has only the standard nodes.
	Privileged bool `json:"privileged,omitempty"`
	// ShmSizeMB is the size of the container's /dev/shm (0: 64).
	ShmSizeMB int `json:"shmSizeMB,omitempty"`
	// Resources are set in the container's cgroup before its first
	// process starts (update.go).
	Resources *Resources `json:"resources,omitempty"`
}

// Mount kinds: where a volume's content comes from.
const (
	// MountDisk is a volume disk found by its serial (Source), mounted
	// once per VM (FSType, default ext4) and bound into containers.
	MountDisk = "disk"
	// MountShare is an entry (Source: one path element) of the pod's 9p
	// share, the host directory whose mount tag is PodShareTag.
	MountShare = "share"
	// MountScratch is a pod directory named Source, shared by the
	// containers mounting it: on the scratch disk, or a tmpfs of SizeMB
	// (0: half the memory) when FSType is "tmpfs".
	MountScratch = "scratch"
)

// PodShareTag is the 9p mount tag of the pod's share (ADR 0007).
const PodShareTag = "hyperpod"

// Mount mounts a volume at Path in a container.
type Mount struct {
	Kind     string `json:"kind"`
	Source   string `json:"source"`
	Path     string `json:"path"` // absolute, in the container
	ReadOnly bool   `json:"readOnly,omitempty"`
	FSType   string `json:"fsType,omitempty"`
	SizeMB   int    `json:"sizeMB,omitempty"`
}

// FileSpec is a file written into a container's root filesystem.
type FileSpec struct {
	// Path is absolute; it is resolved inside the container's root, as if
	// that were "/" (symlinks of the image cannot lead out of it). Missing
	// parent directories are created (root-owned, 0755).
	Path    string `json:"path"`
	Content []byte `json:"content"`
	Mode    uint32 `json:"mode"` // permission bits, at most 07777
	// User and Group own the file: names (resolved against the image's
	// /etc/passwd and /etc/group) or numeric ids. Empty User is root;
	// empty Group is User's primary group.
	User  string `json:"user,omitempty"`
	Group string `json:"group,omitempty"`
}

// RootfsSpec names the read-only image disk of a container.
type RootfsSpec struct {
	// DiskSerial is the serial of the block device holding the image.
	DiskSerial string `json:"diskSerial"`
	// FSType of that device: "erofs" (default) or "ext4".
	FSType string `json:"fsType,omitempty"`
	// ReadOnly makes the container's root read-only (no writable layer).
	ReadOnly bool `json:"readOnly,omitempty"`
}

// ContainerRef names a container.
type ContainerRef struct {
	Container string `json:"container"`
}

// ProcessRef names a process of a container.
type ProcessRef struct {
	Container string `json:"container"`
	Exec      string `json:"exec"`
}

// ProcessSpec describes a process to run in a container.
type ProcessSpec struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"` // default "/"
	// User is "name", "uid", "name:group" or "uid:gid", resolved against the
	// image's /etc/passwd and /etc/group. Empty means root.
	User             string   `json:"user,omitempty"`
	AdditionalGroups []string `json:"additionalGroups,omitempty"` // names or gids
	Terminal         bool     `json:"terminal,omitempty"`
	// Stdin opens a stdin stream; without it stdin is /dev/null.
	Stdin   bool     `json:"stdin,omitempty"`
	Rlimits []Rlimit `json:"rlimits,omitempty"`

	// The fields below restrict the process (docs/security.md). The host
	// fills them; the guest applies exactly what they say, and a field
	// left nil keeps what hyperstart itself has (every capability, no
	// filter), so the host's defaults live in one place on the host.

	// Capabilities are the process's capability sets after exec.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS: execve cannot grant
	// privileges (setuid bits, file capabilities) the process lacks.
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
	// Seccomp is a filter installed last before exec.
	Seccomp *SeccompFilter `json:"seccomp,omitempty"`
	// OOMScoreAdj is written to /proc/self/oom_score_adj (-1000..1000).
	OOMScoreAdj *int `json:"oomScoreAdj,omitempty"`
	// Umask is the process's file mode creation mask (at most 0777);
	// nil: 0022.
	Umask *uint32 `json:"umask,omitempty"`
}

// CapabilityNames are the guest kernel's capabilities (Linux 6.1: up to
// CAP_CHECKPOINT_RESTORE, 40) by OCI name; a capability's number is its
// index. Both sides take their names from here.
var CapabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Capabilities are capability names as in the OCI runtime spec
// ("CAP_CHOWN"), per set. A set left empty is empty: no capability.
type Capabilities struct {
	Bounding    []string `json:"bounding,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Permitted   []string `json:"permitted,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
	Ambient     []string `json:"ambient,omitempty"`
}

// SeccompFilter is a classic BPF program for seccomp(2), compiled on the
// host (the guest has no profile compiler).
type SeccompFilter struct {
	// Program is the filter's struct sock_filter array as the guest
	// kernel reads it: 8 bytes an instruction (code uint16, jt uint8,
	// jf uint8, k uint32), little-endian; at most MaxSeccompInstructions.
	Program []byte `json:"program"`
}

// MaxSeccompInstructions is the kernel's BPF_MAXINSNS.
const MaxSeccompInstructions = 4096

// Rlimit is one resource limit, Type as in "RLIMIT_NOFILE".
type Rlimit struct {
	Type string `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// ExecRequest starts a process. The host opens the process's stdio streams
// (stdout, plus stderr without a terminal, plus stdin if Process.Stdin)
// before sending it; the guest waits a bounded time for them.
// Exec == InitExec starts the container's first process.
type ExecRequest struct {
	Container string      `json:"container"`
	Exec      string      `json:"exec"`
	Process   ProcessSpec `json:"process"`
}

// ExecResult reports the started process.
type ExecResult struct {
	Pid int `json:"pid"` // in the VM's PID namespace
}

// ExitStatus is how a process ended. Code follows the shell's convention:
// 128+signal when Signal is non-zero.
type ExitStatus struct {
	Code   int `json:"code"`
	Signal int `json:"signal,omitempty"`
	// OOMKilled: the guest kernel's OOM killer killed a process of the
	// container while this process ran (its cgroup's memory.events
	// oom_kill grew). Set for a container's init process only.
	OOMKilled bool `json:"oomKilled,omitempty"`
}

// SignalRequest sends a signal to one process.
type SignalRequest struct {
	Container string `json:"container"`
	Exec      string `json:"exec"`
	Signal    int    `json:"signal"`
}

// ResizeRequest sets a terminal's window size.
type ResizeRequest struct {
	Container string `json:"container"`
	Exec      string `json:"exec"`
	Rows      uint16 `json:"rows"`
	Cols      uint16 `json:"cols"`
}

// StopRequest stops every process of a container: Signal (default
// SIGTERM) to the init process, then SIGKILL to all after GraceMillis.
type StopRequest struct {
	Container   string `json:"container"`
	Signal      int    `json:"signal,omitempty"`
	GraceMillis int64  `json:"graceMillis"`
}
