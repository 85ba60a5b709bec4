package qemu

import (
	"fmt"
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

// buildArgs turns a spec into QEMU's command line. It is a pure function so
// the whole command line is reviewable in a unit test.
func buildArgs(spec hypervisor.Spec, opts Options) ([]string, error) {
	if spec.VCPUs < 1 || spec.MemoryMB < 64 {
		return nil, errdefs.InvalidArgument("vm %s: need at least 1 vCPU and 64 MiB (got %d, %d)", spec.ID, spec.VCPUs, spec.MemoryMB)
	}
	if spec.Kernel.Path == "" {
		return nil, errdefs.InvalidArgument("vm %s: no kernel", spec.ID)
	}
	a := []string{
		"-name", vmName(spec.ID),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
		"-global", "virtio-mmio.force-legacy=false",
		"-m", fmt.Sprint(spec.MemoryMB),
		"-smp", fmt.Sprint(spec.VCPUs),
	}
	cmdline := baseCmdline
	switch spec.Accel.Kind {
	case hypervisor.AccelKVM:
		a = append(a, "-accel", "kvm", "-cpu", "host")
	case hypervisor.AccelTCG, "":
		// max reports an AMD CPU, on which every extra vCPU calibrates for
		// ~150 ms; as Intel it does not.
		a = append(a, "-accel", "tcg", "-cpu", "max,vendor=GenuineIntel")
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
	a = append(a, "-kernel", spec.Kernel.Path, "-append", cmdline)
	if spec.Kernel.Initrd != "" {
		a = append(a, "-initrd", spec.Kernel.Initrd)
	}
	console := spec.ConsoleLog
	if console == "" {
		console = filepath.Join(spec.StateDir, "console.log")
	}
	a = append(a,
		"-chardev", "file,id=con0,path="+console,
		"-serial", "chardev:con0",
		"-qmp", "unix:"+filepath.Join(spec.StateDir, qmpSocket)+",server=on,wait=off",
		"-object", "rng-random,id=rng0,filename=/dev/urandom",
		"-device", "virtio-rng-device,rng=rng0",
	)
	if len(spec.Channels) > 0 {
		a = append(a, "-device", "virtio-serial-device,id=vser0")
		for i, ch := range spec.Channels {
			if err := checkOpt(ch.Name, ch.SocketPath); err != nil {
				return nil, fmt.Errorf("vm %s: channel: %w", spec.ID, err)
			}
			id := fmt.Sprintf("ch%d", i)
			a = append(a,
				"-chardev", fmt.Sprintf("socket,id=%s,path=%s,server=on,wait=off", id, ch.SocketPath),
				"-device", fmt.Sprintf("virtserialport,bus=vser0.0,chardev=%s,name=%s,id=port%d", id, ch.Name, i))
		}
	}
	if vsockOn {
		a = append(a, "-device", fmt.Sprintf("%s,guest-cid=%d", vsockDevice, vsockCID(spec.ID)))
	}
	// Every VM has one virtio-scsi controller, so that disks can be added
	// while it runs (ADR 0007). scsi_mod.scan=manual keeps the guest from
	// probing 256 targets at boot: hyperstart scans target 0 when it looks
	// for a disk.
	a = append(a, "-device", "virtio-scsi-device,id="+scsiController)
	lun := 0
	for i, d := range spec.Disks {
		if err := checkDisk(d); err != nil {
			return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
		}
		drive := fmt.Sprintf("file=%s,if=none,id=d%d,format=%s,cache=none,aio=threads", d.Path, i, diskFormat(d))
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
		a = append(a, "-drive", drive, "-device", dev)
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
		a = append(a, "-fsdev", fs,
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
			nd = fmt.Sprintf("tap,id=n%d,ifname=%s,script=no,downscript=no", i, n.Tap)
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
		a = append(a, "-netdev", nd, "-device", dev)
	}
	if opts.Sandbox {
		a = append(a, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
	}
	return a, nil
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
