// Package hypervisor defines what the pod layer needs from a virtual machine
// monitor: create a VM from an immutable spec, start it, wait for it, stop
// or kill it. QEMU (package hypervisor/qemu) is the first driver; another
// (Firecracker, Cloud Hypervisor) implements the same two interfaces.
package hypervisor

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// Driver creates VMs.
type Driver interface {
	// Name is the driver's name, e.g. "qemu".
	Name() string
	// Create prepares a VM from spec without starting it. Every file the
	// VM needs lives under spec.StateDir.
	Create(ctx context.Context, spec Spec) (VM, error)
}

// VM is one virtual machine. Its lifetime is not tied to any request's
// context: Start returns once the VM runs; Wait blocks until it is gone.
type VM interface {
	// Start launches the VM.
	Start(ctx context.Context) error
	// Pid is the hypervisor process id, 0 before Start.
	Pid() int
	// Wait blocks until the VM has exited, or ctx ends.
	Wait(ctx context.Context) (ExitInfo, error)
	// Shutdown asks the hypervisor to end the VM (it does not ask the
	// guest: a guest's clean poweroff goes through the guest channel).
	// It returns after the VM has exited or ctx ends.
	Shutdown(ctx context.Context) error
	// Kill ends the VM at once.
	Kill() error
	// DialChannel connects the host end of the spec's channel called
	// name, waiting until it can be reached; once the VM has exited it
	// fails (Unavailable). How the channel crosses into the guest is the
	// driver's choice: a virtio-serial port behind a unix socket, a vsock
	// connection, or a hybrid vsock (a unix socket and a CONNECT
	// handshake).
	DialChannel(ctx context.Context, name string) (net.Conn, error)
}

// ExitInfo tells how a VM ended.
type ExitInfo struct {
	ExitCode int
	Reason   string // human readable, e.g. "exited with status 0"
	At       time.Time
}

// Spec is the immutable description of a VM.
type Spec struct {
	ID       string
	StateDir string // sockets, logs, pid file
	VCPUs    int
	MemoryMB int
	Kernel   Kernel
	Accel    Accel
	Disks    []Disk
	Shares   []Share // host directories over virtio-9p
	NICs     []NIC
	// Channels are guest<->host byte streams, reached with
	// VM.DialChannel.
	Channels []Channel
	// ConsoleLog receives the guest's serial console.
	ConsoleLog string
}

// Kernel is what the VM boots.
type Kernel struct {
	Path    string // uncompressed vmlinux (PVH) or bzImage
	Initrd  string
	Cmdline string // appended to the driver's own
}

// Disk is a block device, found by the guest by its Serial.
type Disk struct {
	Path     string
	Serial   string // 1-20 bytes of [A-Za-z0-9_.-]
	ReadOnly bool
	Format   string // "raw" (default) or "qcow2"
	// Hotplug marks a disk that may be removed while the VM runs, and
	// that others like it may join later (DiskHotplugger): the driver
	// puts it where that is possible (qemu: a LUN of its SCSI
	// controller, docs/adr/0007-vm-devices.md). A disk without it is
	// fixed for the VM's life, on the driver's fastest path.
	Hotplug bool
}

// DiskHotplugger is the optional ability to add disks to a running VM and
// remove them (as if they had Hotplug). The guest finds an added disk by
// its serial.
type DiskHotplugger interface {
	AddDisk(ctx context.Context, d Disk) error
	// RemoveDisk detaches the disk with serial; a missing disk is not an
	// error.
	RemoveDisk(ctx context.Context, serial string) error
}

// Share is a host directory exported over virtio-9p.
type Share struct {
	Tag      string
	Path     string
	ReadOnly bool
}

// NIC is a network interface.
type NIC struct {
	ID  string
	MAC string
	// Tap is a host tap device name; empty means the driver's user-mode
	// network (UserNetworker).
	Tap string
	// Forwards publish guest ports on the host (user-mode NICs only).
	Forwards []PortForward
}

// PortForward publishes a guest port on a host address and port.
type PortForward struct {
	Proto     string     // "tcp" or "udp"
	HostIP    netip.Addr // IPv4; the zero Addr is every address
	HostPort  uint16
	GuestPort uint16
}

// UserNetworker is the optional ability of a driver to give VMs a
// user-mode network: NICs without a Tap, served by the hypervisor's own
// network stack (no privileges, no host interface; the guest's
// connections leave as the host's own).
type UserNetworker interface {
	// UserNetwork is what the guest of a user-mode NIC configures.
	UserNetwork() UserNet
}

// UserNet is the guest's side of a user-mode network.
type UserNet struct {
	Address string   // the guest's, with its prefix: "10.0.2.15/24"
	Gateway string   // also reaches the host's loopback, where drivers allow
	DNS     []string // resolvers that forward to the host's
	MTU     int
}

// Channel is a byte stream between host and guest.
type Channel struct {
	Name string // how the guest finds it (a virtio-serial port's name)
	// SocketPath is a file under the state dir for the host end, for a
	// driver whose channel is a unix socket (qemu's serial transport).
	SocketPath string
}

// Attacher is the optional ability to take over a VM started by an earlier
// process (a restarted daemon): the VM runs on, and the returned VM can
// wait for it, stop and kill it.
type Attacher interface {
	// Owns tells whether process pid is the VM of spec.ID as this driver
	// started it, still running. A recorded pid may have gone to any
	// other process since.
	Owns(spec Spec, pid int) bool
	// Attach takes over the VM of spec running as process pid; a pid
	// that is not it (Owns) is a NotFound error.
	Attach(ctx context.Context, spec Spec, pid int) (VM, error)
}
