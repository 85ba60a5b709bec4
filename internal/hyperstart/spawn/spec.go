// Package spawn starts container processes, from a locked thread that has
// joined the pod's namespaces. Most are set up on that thread and forked
// and exec'd from it directly (Direct). For the others (rlimits are per
// process) hyperstart re-executes itself as "spawn" from the thread; the
// spawn child, running the same setup steps, reads a Spec from fd 3, sets
// up the container (for the init process: its root filesystem) and the
// process's identity and confinement (package security), and execs the
// user's program. On failure it writes a protocol.Error back on fd 3 and
// exits; on success fd 3 is closed by the exec, so the parent reading EOF
// with no data knows the program is running. A process with a terminal
// gets a pty of the container's own devpts, opened by the spawn child,
// which passes the master to the parent over fd 3 first. The confined
// processes of a container whose init is confined are forked from a
// Holder, a thread in the container's root and Landlock domain.
package spawn

import "github.com/hyperhq/hyper/internal/protocol"

// Mode is argv[1] of a spawn child.
const Mode = "spawn"

// specFD is the fd of the socket between parent and spawn child.
const specFD = 3

// terminalMsg is the byte sent with the terminal master fd.
const terminalMsg = 'T'

// Limits on the messages exchanged over specFD.
const (
	maxSpecSize  = protocol.MaxFrameSize + 64<<10
	maxErrorSize = 64 << 10
)

// Spec tells a spawn child what to run.
type Spec struct {
	// Init starts a container's first process: the child is in a new mount
	// namespace and turns Rootfs into its root.
	Init bool `json:"init,omitempty"`
	// Rootfs is the prepared root filesystem (Init only).
	Rootfs string `json:"rootfs,omitempty"`
	// Proc is a proc mount of the pod's PID namespace, cloned onto the
	// container's /proc (Init only). Empty: a new proc is mounted, of the
	// starting process's PID namespace (the spawn child's is the pod's).
	Proc string `json:"proc,omitempty"`
	// PodFiles maps a path under /etc in the container to a file to bind
	// there, such as "hosts" -> "/run/hyper/pod/hosts" (Init only).
	PodFiles map[string]string `json:"podFiles,omitempty"`
	// Volumes are bound into the container after its root is set up
	// (Init only).
	Volumes []Volume `json:"volumes,omitempty"`
	// InDomain: the child was forked in its container's Landlock domain
	// (see Holder) and enters none of its own.
	InDomain bool `json:"inDomain,omitempty"`
	// Confinement hides and protects parts of the container's tree
	// (Init only).
	Confinement Confinement `json:"confinement"`
	// Process is what to run.
	Process protocol.ProcessSpec `json:"process"`
}

// Confinement is what of a container's /proc, /sys and /dev its
// processes may see and change, applied once they are mounted.
type Confinement struct {
	// MaskedPaths get /dev/null (a file) or an empty read-only tmpfs (a
	// directory) mounted over them; missing ones are skipped.
	MaskedPaths []string `json:"maskedPaths,omitempty"`
	// ReadonlyPaths are bound read-only onto themselves, recursively.
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// Privileged mounts /sys read-write and gives /dev the VM's device
	// nodes.
	Privileged bool `json:"privileged,omitempty"`
	// ShmSizeMB sizes /dev/shm (0: 64 MB).
	ShmSizeMB int `json:"shmSizeMB,omitempty"`
}
