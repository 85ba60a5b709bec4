package qemu

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

func spec() hypervisor.Spec {
	return hypervisor.Spec{
		ID: "p1", StateDir: "/run/x", VCPUs: 1, MemoryMB: 256,
		Kernel:   hypervisor.Kernel{Path: "/k/vmlinux", Initrd: "/k/initrd", Cmdline: "hyper.debug=1"},
		Accel:    hypervisor.Accel{Kind: hypervisor.AccelTCG},
		Channels: []hypervisor.Channel{{Name: "hyper.0", SocketPath: "/run/x/hyper.sock"}},
		Disks: []hypervisor.Disk{{Path: "/img/a.erofs", Serial: "img0", ReadOnly: true},
			{Path: "/img/b.erofs", Serial: "img1", ReadOnly: true, Hotplug: true},
			{Path: "/vol/c.ext4", Serial: "vol-c", Hotplug: true}},
		Shares: []hypervisor.Share{{Tag: "vol0", Path: "/data", ReadOnly: true}},
		NICs: []hypervisor.NIC{{MAC: "52:54:00:12:34:56", Forwards: []hypervisor.PortForward{
			{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, GuestPort: 80}}}},
	}
}

func TestBuildArgs(t *testing.T) {
	c, err := buildArgs(spec(), Options{TSCKHz: 2899990})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(c.args, " ")
	for _, want := range []string{
		"-nodefaults", "-no-reboot", "-accel tcg", "microvm",
		"-append " + baseCmdline + " nolapic_timer tsc_early_khz=2899990 hyper.debug=1",
		"max,vendor=GenuineIntel", "virtio-mmio.force-legacy=false",
		"virtserialport,bus=vser0.0,chardev=ch0,name=hyper.0,id=port0",
		"-add-fd fd=4,set=0,opaque=console -chardev file,id=con0,path=/dev/fdset/0",
		"-chardev socket,id=qmp0,fd=5,server=on,wait=off -mon chardev=qmp0,mode=control",
		"socket,id=ch0,fd=6,server=on,wait=off",
		"-add-fd fd=7,set=1,opaque=img0 -drive file=/dev/fdset/1,if=none,id=d0,format=raw,cache=none,aio=threads,readonly=on",
		"-add-fd fd=9,set=3,opaque=vol-c -add-fd fd=10,set=3,opaque=vol-c -drive file=/dev/fdset/3,",
		"virtio-blk-device,drive=d0,serial=img0",
		"-device virtio-scsi-device,id=scsi0",
		"scsi-hd,bus=scsi0.0,drive=d1,serial=img1,channel=0,scsi-id=0,lun=0,id=sd-img1",
		"scsi-hd,bus=scsi0.0,drive=d2,serial=vol-c,channel=0,scsi-id=0,lun=1,id=sd-vol-c",
		"virtio-9p-device,fsdev=fs0,mount_tag=vol0",
		"user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("command line lacks %q:\n%s", want, line)
		}
	}
	want := []passed{
		{kind: passFile, path: "/run/x/console.log", flag: os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
		{kind: passSocket, path: "/run/x/qmp.sock"}, {kind: passSocket, path: "/run/x/hyper.sock"},
		{kind: passFile, path: "/img/a.erofs", flag: os.O_RDONLY}, {kind: passFile, path: "/img/b.erofs", flag: os.O_RDONLY},
		{kind: passFile, path: "/vol/c.ext4", flag: os.O_RDWR}, {kind: passFile, path: "/vol/c.ext4", flag: os.O_RDONLY},
	}
	if !reflect.DeepEqual(c.files, want) {
		t.Errorf("passed files:\n%+v, want\n%+v", c.files, want)
	}
	if strings.Contains(line, "vsock") || strings.Contains(line, "/img/") {
		t.Error("vsock device without the vsock transport, or a disk by path")
	}
	c, _ = buildArgs(spec(), Options{Transport: TransportVsock})
	vline := strings.Join(c.args, " ")
	if !strings.Contains(vline, fmt.Sprintf("vhost-vsock-device,guest-cid=%d,vhostfd=7", vsockCID("p1"))) || !strings.Contains(vline, " hyper.vsock=1024") || !usesVsock([]byte(vline)) {
		t.Errorf("no vsock device or port:\n%s", vline)
	}
	if strings.Contains(line, "-sandbox") || strings.Contains(line, "tb-size") {
		t.Error("sandbox or a TCG buffer size by default")
	}
	c, _ = buildArgs(spec(), Options{Sandbox: true, TCGBufferMB: 128})
	if line := strings.Join(c.args, " "); !strings.Contains(line, "-accel tcg,tb-size=128") || !strings.Contains(line, "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny") {
		t.Errorf("no TCG buffer size or sandbox:\n%s", line)
	}
}

func TestFreeLUN(t *testing.T) {
	if l := freeLUN(map[string]int{"sd-a": 0, "sd-b": 2}); l != 1 {
		t.Errorf("freeLUN = %d, want 1", l)
	}
	full := map[string]int{}
	for i := 0; i <= maxLUN; i++ {
		full[fmt.Sprint(i)] = i
	}
	if l := freeLUN(full); l != -1 {
		t.Errorf("freeLUN(full) = %d, want -1", l)
	}
}

func TestBuildArgsRejects(t *testing.T) {
	for name, mut := range map[string]func(*hypervisor.Spec){
		"comma in path":    func(s *hypervisor.Spec) { s.Disks[0].Path = "/a,b" },
		"long serial":      func(s *hypervisor.Spec) { s.Disks[0].Serial = strings.Repeat("x", 21) },
		"serial syntax":    func(s *hypervisor.Spec) { s.Disks[0].Serial = "a=b" },
		"no memory":        func(s *hypervisor.Spec) { s.MemoryMB = 0 },
		"no kernel":        func(s *hypervisor.Spec) { s.Kernel.Path = "" },
		"bad accel":        func(s *hypervisor.Spec) { s.Accel.Kind = "xen" },
		"comma in forward": func(s *hypervisor.Spec) { s.NICs[0].Forwards[0].Proto = "tcp,smb=/" },
		"forward on tap":   func(s *hypervisor.Spec) { s.NICs[0].Tap = "tap0" },
		"ipv6 forward":     func(s *hypervisor.Spec) { s.NICs[0].Forwards[0].HostIP = netip.IPv6Loopback() },
	} {
		s := spec()
		mut(&s)
		if _, err := buildArgs(s, Options{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
	}
}

// TestHostForwards: port forwards become slirp's hostfwd rules.
func TestHostForwards(t *testing.T) {
	any4, lo := netip.IPv4Unspecified(), netip.MustParseAddr("127.0.0.1")
	var got []string
	for _, f := range []hypervisor.PortForward{
		{Proto: "tcp", HostIP: lo, HostPort: 18080, GuestPort: 80},
		{Proto: "tcp", HostIP: any4, HostPort: 8080, GuestPort: 80},
		{Proto: "udp", HostIP: any4, HostPort: 5353, GuestPort: 53},
		{Proto: "tcp", HostPort: 8080, GuestPort: 80},
	} {
		fw, err := hostfwd(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fw)
	}
	want := []string{"tcp:127.0.0.1:18080-:80", "tcp:0.0.0.0:8080-:80", "udp:0.0.0.0:5353-:53", "tcp::8080-:80"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("forwards = %q, want %q", got, want)
	}
}

// TestNamedIn: a restarted daemon knows its QEMU by the VM's name, and no
// other VM's.
func TestNamedIn(t *testing.T) {
	c, err := buildArgs(spec(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cmdline := []byte(strings.Join(append([]string{"qemu-system-x86_64"}, c.args...), "\x00") + "\x00")
	if !namedIn(cmdline, "p1") {
		t.Error("its own VM not recognised")
	}
	for _, id := range []string{"p", "p1x", ""} {
		if namedIn(cmdline, id) {
			t.Errorf("VM %q recognised in p1's command line", id)
		}
	}
}
