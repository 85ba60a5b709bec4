package qemu

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/protocol"
)

// baseCmdline is what every guest kernel gets before the spec's own
// command line. reboot=t + -no-reboot: a guest reboot (hyperstart's
// poweroff) or a kernel panic ends QEMU. The timer options skip checks that
// cost ~100 ms on an emulated CPU and prove nothing on a virtual one. See
// docs/kernel.md for the measurements.
const baseCmdline = "console=ttyS0 reboot=t panic=-1 quiet no_timer_check tsc=reliable noreplace-smp scsi_mod.scan=manual"

// tcgCmdline skips the local APIC timer calibration (~250 ms under TCG).
const tcgCmdline = "nolapic_timer"

// file names under the VM's state dir.
const (
	qmpSocket = "qmp.sock"
	qemuLog   = "qemu.log"
)

// A passed file is one QEMU inherits as a descriptor instead of opening a
// host path: a jailed QEMU sees no host path but its boot files and shares
// (docs/adr/0012-qemu-jail.md). The driver opens them at launch.
type passed struct {
	kind passKind
	path string // the file, socket or tap name
	flag int    // open flags of a file
}

type passKind int

const (
	passFile   passKind = iota // os.OpenFile(path, flag)
	passSocket                 // a listening unix socket bound at path
	passTap                    // the persistent tap called path, attached
)

// firstPassedFD is the descriptor of the first passed file (incomingFD,
// the state of a restored VM, comes before).
const firstPassedFD = incomingFD + 1

// cmdline is QEMU's command line and the files it refers to by
// descriptor: files[i] is descriptor firstPassedFD+i.
type cmdline struct {
	args  []string
	files []passed
}

// pass adds a file and returns its descriptor in QEMU.
func (c *cmdline) pass(p passed) int {
	c.files = append(c.files, p)
	return firstPassedFD + len(c.files) - 1
}

func (c *cmdline) add(args ...string) { c.args = append(c.args, args...) }

// fdset passes the files of a QEMU fd set (-add-fd) and returns the path
// QEMU opens them by: QEMU dups the one whose access mode matches.
func (c *cmdline) fdset(set int, opaque string, files ...passed) string {
	for _, f := range files {
		c.args = append(c.args, "-add-fd", fmt.Sprintf("fd=%d,set=%d,opaque=%s", c.pass(f), set, opaque))
	}
	return fmt.Sprintf("/dev/fdset/%d", set)
}

// diskFiles are the descriptors of a disk: read-only, or read-write and
// read-only (QEMU reopens a writable image read-only at times).
func diskFiles(d hypervisor.Disk) []passed {
	ro := passed{kind: passFile, path: d.Path, flag: os.O_RDONLY}
	if d.ReadOnly {
		return []passed{ro}
	}
	return []passed{{kind: passFile, path: d.Path, flag: os.O_RDWR}, ro}
}

// buildArgs turns a spec into QEMU's command line. It is a pure function so
// the whole command line is reviewable in a unit test.
func buildArgs(spec hypervisor.Spec, opts Options) (*cmdline, error) {
	if spec.VCPUs < 1 || spec.MemoryMB < 64 {
		return nil, errdefs.InvalidArgument("vm %s: need at least 1 vCPU and 64 MiB (got %d, %d)", spec.ID, spec.VCPUs, spec.MemoryMB)
	}
	if spec.Kernel.Path == "" {
		return nil, errdefs.InvalidArgument("vm %s: no kernel", spec.ID)
	}
	c := &cmdline{args: []string{
		"-name", vmName(spec.ID),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
		"-global", "virtio-mmio.force-legacy=false",
		"-m", fmt.Sprint(spec.MemoryMB),
		"-smp", fmt.Sprint(spec.VCPUs),
	}}
	cmdline := baseCmdline
	switch spec.Accel.Kind {
	case hypervisor.AccelKVM:
		c.add("-accel", "kvm", "-cpu", "host")
	case hypervisor.AccelTCG, "":
		// max reports an AMD CPU, on which every extra vCPU calibrates for
		// ~150 ms; as Intel it does not.
		tcg := "tcg"
		if opts.TCGBufferMB > 0 {
			tcg += fmt.Sprintf(",tb-size=%d", opts.TCGBufferMB)
		}
		c.add("-accel", tcg, "-cpu", "max,vendor=GenuineIntel")
		cmdline += " " + tcgCmdline
		if opts.TSCKHz > 0 {
			cmdline += fmt.Sprintf(" tsc_early_khz=%d", opts.TSCKHz)
		}
	default:
		return nil, errdefs.InvalidArgument("vm %s: unknown acceleration %q", spec.ID, spec.Accel.Kind)
	}
	if spec.Kernel.Cmdline != "" {
		cmdline += " " + spec.Kernel.Cmdline
	}
	vsockOn := opts.Transport == TransportVsock && len(spec.Channels) > 0
	if vsockOn {
		cmdline += fmt.Sprintf(" %s=%d", protocol.VsockParam, protocol.VsockPort)
	}
	c.add("-kernel", spec.Kernel.Path, "-append", cmdline)
	if spec.Kernel.Initrd != "" {
		c.add("-initrd", spec.Kernel.Initrd)
	}
	console := spec.ConsoleLog
	if console == "" {
		console = filepath.Join(spec.StateDir, "console.log")
	}
	if err := checkOpt(console); err != nil {
		return nil, fmt.Errorf("vm %s: console: %w", spec.ID, err)
	}
	conFD := c.fdset(0, "console", passed{kind: passFile, path: console, flag: os.O_WRONLY | os.O_CREATE | os.O_TRUNC})
	qmpFD := c.pass(passed{kind: passSocket, path: filepath.Join(spec.StateDir, qmpSocket)})
	c.add(
		"-chardev", "file,id=con0,path="+conFD,
		"-serial", "chardev:con0",
		"-chardev", fmt.Sprintf("socket,id=qmp0,fd=%d,server=on,wait=off", qmpFD),
		"-mon", "chardev=qmp0,mode=control",
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-device,rng=rng0",
	)
	if len(spec.Channels) > 0 {
		c.add("-device", "virtio-serial-device,id=vser0")
		for i, ch := range spec.Channels {
			if err := checkOpt(ch.Name, ch.SocketPath); err != nil {
				return nil, fmt.Errorf("vm %s: channel: %w", spec.ID, err)
			}
			id := fmt.Sprintf("ch%d", i)
			c.add(
				"-chardev", fmt.Sprintf("socket,id=%s,fd=%d,server=on,wait=off", id, c.pass(passed{kind: passSocket, path: ch.SocketPath})),
				"-device", fmt.Sprintf("virtserialport,bus=vser0.0,chardev=%s,name=%s,id=port%d", id, ch.Name, i))
		}
	}
	if vsockOn {
		fd := c.pass(passed{kind: passFile, path: vhostVsock, flag: os.O_RDWR})
		c.add("-device", fmt.Sprintf("%s,guest-cid=%d,vhostfd=%d", vsockDevice, vsockCID(spec.ID), fd))
	}
	// Every VM has one virtio-scsi controller, so that disks can be added
	// while it runs (ADR 0007). scsi_mod.scan=manual keeps the guest from
	// probing 256 targets at boot: hyperstart scans target 0 when it looks
	// for a disk.
	c.add("-device", "virtio-scsi-device,id="+scsiController)
	lun := 0
	for i, d := range spec.Disks {
		if err := checkDisk(d); err != nil {
			return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
		}
		file := c.fdset(i+1, d.Serial, diskFiles(d)...)
		drive := fmt.Sprintf("file=%s,if=none,id=d%d,format=%s,cache=none,aio=threads", file, i, diskFormat(d))
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		// A disk that may be removed (or join later) is a SCSI LUN;
		// the others are virtio-blk, the fastest path but fixed at boot
		// and one of microvm's few transports each (ADR 0007).
		dev := fmt.Sprintf("virtio-blk-device,drive=d%d,serial=%s", i, d.Serial)
		if d.Hotplug {
			if lun > maxLUN {
				return nil, errdefs.InvalidArgument("vm %s: more than %d SCSI disks", spec.ID, maxLUN+1)
			}
			dev = fmt.Sprintf("scsi-hd,bus=%s.0,drive=d%d,serial=%s,channel=0,scsi-id=0,lun=%d,id=%s", scsiController, i, d.Serial, lun, scsiDeviceID(d.Serial))
			lun++
		}
		c.add("-drive", drive, "-device", dev)
	}
	for i, s := range spec.Shares {
		if err := checkOpt(s.Tag, s.Path); err != nil {
			return nil, fmt.Errorf("vm %s: share: %w", spec.ID, err)
		}
		// multidevs=remap: the share holds binds of several host
		// filesystems; remapping keeps inode numbers unique in the guest.
		fs := fmt.Sprintf("local,id=fs%d,path=%s,security_model=none,multidevs=remap", i, s.Path)
		if s.ReadOnly {
			fs += ",readonly=on"
		}
		c.add("-fsdev", fs,
			"-device", fmt.Sprintf("virtio-9p-device,fsdev=fs%d,mount_tag=%s", i, s.Tag))
	}
	for i, n := range spec.NICs {
		if err := checkOpt(n.Tap, n.MAC); err != nil {
			return nil, fmt.Errorf("vm %s: nic: %w", spec.ID, err)
		}
		var nd string
		if n.Tap != "" {
			if len(n.Forwards) > 0 {
				return nil, errdefs.InvalidArgument("vm %s: nic %s: port forwards need a user-mode NIC", spec.ID, n.ID)
			}
			nd = fmt.Sprintf("tap,id=n%d,fd=%d", i, c.pass(passed{kind: passTap, path: n.Tap}))
		} else {
			nd = fmt.Sprintf("user,id=n%d", i)
			for _, f := range n.Forwards {
				fw, err := hostfwd(f)
				if err != nil {
					return nil, fmt.Errorf("vm %s: nic: %w", spec.ID, err)
				}
				nd += ",hostfwd=" + fw
			}
		}
		dev := fmt.Sprintf("virtio-net-device,netdev=n%d", i)
		if n.MAC != "" {
			dev += ",mac=" + n.MAC
		}
		c.add("-netdev", nd, "-device", dev)
	}
	if opts.Sandbox {
		c.add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
	}
	return c, nil
}

// hostfwd renders a port forward as slirp's rule
// "PROTO:HOSTIP:HOSTPORT-:GUESTPORT" (an empty HOSTIP is every address).
func hostfwd(f hypervisor.PortForward) (string, error) {
	if f.Proto != "tcp" && f.Proto != "udp" {
		return "", errdefs.InvalidArgument("port forward: protocol %q: want tcp or udp", f.Proto)
	}
	if f.HostPort == 0 || f.GuestPort == 0 {
		return "", errdefs.InvalidArgument("port forward %d->%d: ports must be 1-65535", f.HostPort, f.GuestPort)
	}
	ip := ""
	if f.HostIP.IsValid() {
		if !f.HostIP.Is4() {
			return "", errdefs.InvalidArgument("port forward: host address %s: want IPv4", f.HostIP)
		}
		ip = f.HostIP.String()
	}
	return fmt.Sprintf("%s:%s:%d-:%d", f.Proto, ip, f.HostPort, f.GuestPort), nil
}

// checkDisk refuses a disk QEMU's option syntax or the guest could not take.
func checkDisk(d hypervisor.Disk) error {
	if !validSerial(d.Serial) {
		return errdefs.InvalidArgument("disk serial %q must be 1-20 bytes of letters, digits, '_', '.' or '-'", d.Serial)
	}
	if f := diskFormat(d); f != "raw" && f != "qcow2" {
		return errdefs.InvalidArgument("disk %s: unknown format %q", d.Serial, f)
	}
	if err := checkOpt(d.Path); err != nil {
		return fmt.Errorf("disk %s: %w", d.Serial, err)
	}
	return nil
}

func validSerial(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func diskFormat(d hypervisor.Disk) string {
	if d.Format == "" {
		return "raw"
	}
	return d.Format
}

// checkOpt refuses values that would inject options into QEMU's
// comma-separated syntax.
func checkOpt(vals ...string) error {
	for _, v := range vals {
		if strings.ContainsAny(v, ",\n\x00") {
			return errdefs.InvalidArgument("value %q may not contain ',' or control characters", v)
		}
	}
	return nil
}
