package vm_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/protocol"
)

// dockerCaps is Docker's default capability set; 0xa80425fb in
// /proc/PID/status.
var dockerCaps = capList("CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP " +
	"NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE")

// capList turns "CHOWN KILL" into OCI capability names.
func capList(s string) []string {
	var names []string
	for _, n := range strings.Fields(s) {
		names = append(names, "CAP_"+n)
	}
	return names
}

const dockerCapsHex = "00000000a80425fb"

// Docker's default masked and read-only paths, and a file every guest
// kernel has (this one has no /proc/kcore).
var (
	dockerMasked = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap", "/proc/cmdline"}
	dockerReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// defaultProcess confines args as the host does by default (bounding,
// effective and permitted sets Docker's, inheritable and ambient empty).
func defaultProcess(args ...string) protocol.ProcessSpec {
	return protocol.ProcessSpec{Args: args, Capabilities: &protocol.Capabilities{
		Bounding: dockerCaps, Effective: dockerCaps, Permitted: dockerCaps}}
}

// allCaps is every capability, as a privileged container gets.
func allCaps() *protocol.Capabilities {
	all := capList("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP " +
		"LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE " +
		"SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME " +
		"SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG " +
		"WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE")
	return &protocol.Capabilities{Bounding: all, Effective: all, Permitted: all}
}

// confined creates a container with spec's confinement fields and starts
// its init, draining its output.
func (p *testPod) confined(spec protocol.ContainerSpec, init protocol.ProcessSpec) {
	p.t.Helper()
	spec.Rootfs = protocol.RootfsSpec{DiskSerial: "img0"}
	if err := p.v.Guest.CreateContainer(p.ctx, spec); err != nil {
		p.t.Fatal(err)
	}
	proc, err := p.v.Guest.Exec(p.ctx, spec.ID, protocol.InitExec, init)
	if err != nil {
		p.t.Fatal(err)
	}
	go io.Copy(io.Discard, proc.Stdout)
	go io.Copy(io.Discard, proc.Stderr)
}

// status returns the fields of the process's /proc/self/status.
func status(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// denyMkdir is a seccomp program that fails mkdir and mkdirat with EPERM
// and allows everything else.
func denyMkdir(t *testing.T) *protocol.SeccompFilter {
	t.Helper()
	insns, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipFalse: 4},
		bpf.LoadAbsolute{Off: 0, Size: 4}, // nr
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_MKDIR, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_MKDIRAT, SkipTrue: 1},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
		bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var prog []byte
	for _, in := range insns {
		prog = binary.LittleEndian.AppendUint16(prog, in.Op)
		prog = append(prog, in.Jt, in.Jf)
		prog = binary.LittleEndian.AppendUint32(prog, in.K)
	}
	return &protocol.SeccompFilter{Program: prog}
}

// TestConfinement sends the host's confinement fields explicitly and
// checks what a container's processes can see and do.
func TestConfinement(t *testing.T) {
	p := bootPod(t)
	p.confined(protocol.ContainerSpec{ID: "def", MaskedPaths: dockerMasked, ReadonlyPaths: dockerReadonly},
		defaultProcess("sleep", "3600"))
	p.confined(protocol.ContainerSpec{ID: "priv", Privileged: true},
		protocol.ProcessSpec{Args: []string{"sleep", "3600"}, Capabilities: allCaps()})
	caps := func(t *testing.T, spec protocol.ProcessSpec, want map[string]string) {
		t.Helper()
		spec.Args = []string{"cat", "/proc/self/status"}
		r := p.run("def", spec, "")
		if r.status.Code != 0 {
			t.Fatalf("%+v", r)
		}
		st := status(r.stdout)
		for k, v := range want {
			if st[k] != v {
				t.Errorf("%s = %q, want %q", k, st[k], v)
			}
		}
	}
	fails := func(t *testing.T, container string, spec protocol.ProcessSpec, script, want string) {
		t.Helper()
		spec.Args = []string{"sh", "-c", script}
		r := p.run(container, spec, "")
		if r.status.Code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("%q: %+v, want a failure with %q", script, r, want)
		}
	}

	t.Run("docker default capabilities", func(t *testing.T) {
		caps(t, defaultProcess(), map[string]string{"CapBnd": dockerCapsHex, "CapEff": dockerCapsHex,
			"CapPrm": dockerCapsHex, "CapInh": "0000000000000000", "CapAmb": "0000000000000000",
			"NoNewPrivs": "0", "Seccomp": "0"})
	})
	t.Run("empty sets", func(t *testing.T) {
		caps(t, protocol.ProcessSpec{Capabilities: &protocol.Capabilities{}}, map[string]string{
			"CapBnd": "0000000000000000", "CapEff": "0000000000000000", "CapPrm": "0000000000000000"})
	})
	t.Run("ambient for a user", func(t *testing.T) {
		amb := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"} // 1<<5 | 1<<10
		spec := defaultProcess()
		spec.User = "alice"
		spec.Capabilities.Inheritable, spec.Capabilities.Ambient = amb, amb
		caps(t, spec, map[string]string{"CapBnd": dockerCapsHex, "CapEff": "0000000000000420",
			"CapPrm": "0000000000000420", "CapInh": "0000000000000420", "CapAmb": "0000000000000420", "Uid": "1000\t1000\t1000\t1000"})
	})
	t.Run("a user without ambient capabilities has none", func(t *testing.T) {
		spec := defaultProcess()
		spec.User = "alice"
		caps(t, spec, map[string]string{"CapBnd": dockerCapsHex, "CapEff": "0000000000000000", "CapPrm": "0000000000000000"})
	})
	t.Run("no new privileges", func(t *testing.T) {
		spec := defaultProcess()
		spec.NoNewPrivileges = true
		caps(t, spec, map[string]string{"NoNewPrivs": "1", "CapEff": dockerCapsHex})
	})
	t.Run("terminal", func(t *testing.T) {
		spec := defaultProcess("sh", "-c", "test -t 0 && test -t 1 && echo TTY; grep CapEff /proc/self/status")
		spec.Terminal, spec.User = true, "alice"
		r := p.run("def", spec, "")
		if r.status.Code != 0 || !strings.Contains(r.stdout, "TTY") || !strings.Contains(r.stdout, "0000000000000000") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("unknown capability", func(t *testing.T) {
		spec := defaultProcess("true")
		spec.Capabilities.Bounding = append(spec.Capabilities.Bounding, "CAP_FLY")
		if _, err := p.v.Guest.Exec(p.ctx, "def", "badcap", spec); err == nil || !strings.Contains(err.Error(), "CAP_FLY") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no mount", func(t *testing.T) {
		fails(t, "def", defaultProcess(), "mkdir -p /tmp/m && mount -t tmpfs tmpfs /tmp/m", "denied")
	})
	t.Run("masked paths", func(t *testing.T) {
		// def's init went through the spawn child (it has capabilities),
		// direct's was set up on a hyperstart thread.
		p.confined(protocol.ContainerSpec{ID: "direct", MaskedPaths: dockerMasked, ReadonlyPaths: dockerReadonly},
			protocol.ProcessSpec{Args: []string{"sleep", "3600"}})
		for _, c := range []string{"def", "direct"} {
			got := p.sh(c, "wc -c < /proc/cmdline; ls -A /sys/firmware | wc -l; cat /proc/kcore >/dev/null 2>&1 || echo no kcore")
			if got != "0\n0\nno kcore" {
				t.Fatalf("%s: got %q", c, got)
			}
		}
		fails(t, "direct", protocol.ProcessSpec{}, "echo x > /proc/sys/kernel/domainname", "Read-only file system")
		if got := p.sh("priv", "wc -c < /proc/cmdline"); got == "0" {
			t.Fatal("the privileged container's /proc/cmdline is masked")
		}
	})
	t.Run("read-only /proc/sys and /sys", func(t *testing.T) {
		fails(t, "def", defaultProcess(), "echo x > /proc/sys/kernel/domainname", "Read-only file system")
		fails(t, "def", defaultProcess(), "echo 1 > /sys/kernel/profiling || mkdir /sys/fs/x", "Read-only file system")
	})
	t.Run("oom score and umask", func(t *testing.T) {
		oom, umask := 123, uint32(0o027)
		spec := defaultProcess("sh", "-c", "cat /proc/self/oom_score_adj; umask")
		spec.OOMScoreAdj, spec.Umask = &oom, &umask
		if r := p.run("def", spec, ""); r.stdout != "123\n0027\n" {
			t.Fatalf("%+v", r)
		}
		if got := p.sh("def", "umask"); got != "0022" {
			t.Fatalf("default umask %q", got)
		}
	})
	for _, nnp := range []bool{false, true} {
		t.Run(fmt.Sprintf("seccomp no-new-privs=%v", nnp), func(t *testing.T) {
			spec := defaultProcess()
			spec.Seccomp, spec.NoNewPrivileges, spec.User = denyMkdir(t), nnp, "alice"
			fails(t, "def", spec, "echo works; grep Seccomp: /proc/self/status; mkdir /tmp/nope-$$", "Operation not permitted")
			spec.Args = []string{"sh", "-c", "echo works; grep Seccomp: /proc/self/status; ls -d /tmp"}
			if r := p.run("def", spec, ""); r.status.Code != 0 || r.stdout != "works\nSeccomp:\t2\n/tmp\n" {
				t.Fatalf("%+v", r)
			}
		})
	}
	t.Run("privileged", func(t *testing.T) {
		spec := protocol.ProcessSpec{Capabilities: allCaps()}
		got := p.run("priv", protocol.ProcessSpec{Capabilities: spec.Capabilities, Args: []string{"sh", "-c",
			"mkdir -p /tmp/m && mount -t tmpfs tmpfs /tmp/m && echo mounted; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; ls /dev | grep -c '^sd'; grep CapEff /proc/self/status"}}, "")
		lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
		if got.status.Code != 0 || len(lines) != 4 || lines[0] != "mounted" || lines[1] != "rw" || lines[2] == "0" ||
			lines[3] != "CapEff:\t000001ffffffffff" {
			t.Fatalf("%+v", got)
		}
		if n := p.sh("def", "ls /dev | grep -c '^sd' || true"); n != "0" {
			t.Fatalf("a default container has %s disks in /dev", n)
		}
	})
}

// TestIsolation checks that a container with the default confinement
// cannot reach another container's files through /proc/PID/root, nor
// the VM's root through pod-init's, while its processes, execs
// included, reach each other's.
func TestIsolation(t *testing.T) {
	p := bootPod(t)
	p.confined(protocol.ContainerSpec{ID: "a", MaskedPaths: dockerMasked, ReadonlyPaths: dockerReadonly},
		defaultProcess("sleep", "3600"))
	p.confined(protocol.ContainerSpec{ID: "b", MaskedPaths: dockerMasked, ReadonlyPaths: dockerReadonly},
		defaultProcess("sleep", "3601"))
	// The inits, found by their command lines (which /proc shows everyone).
	pidOf := func(cmdline string) string {
		t.Helper()
		pid := p.sh("a", `for d in /proc/[0-9]*; do [ "$(tr '\0' ' ' < $d/cmdline 2>/dev/null)" = "`+cmdline+` " ] && echo ${d#/proc/}; done; true`)
		if pid == "" || strings.Contains(pid, "\n") {
			t.Fatalf("%q: pids %q", cmdline, pid)
		}
		return pid
	}
	pid, init := pidOf("sleep 3601"), pidOf("sleep 3600")
	for _, path := range []string{"/proc/" + pid + "/root/", "/proc/" + pid + "/cwd/", "/proc/1/root/"} {
		spec := defaultProcess("ls", path)
		if r := p.run("a", spec, ""); r.status.Code == 0 || !strings.Contains(r.stderr, "denied") {
			t.Errorf("ls %s from a: %+v", path, r)
		}
	}
	spec := defaultProcess("cat", "/proc/"+pid+"/environ")
	if r := p.run("a", spec, ""); r.status.Code == 0 {
		t.Errorf("a read b's environment: %+v", r)
	}
	// No device nodes: the guest has no device cgroup to keep a node of a
	// disk from reaching every container's data.
	if r := p.run("a", defaultProcess("mknod", "/tmp/sda", "b", "8", "0"), ""); r.status.Code == 0 {
		t.Errorf("mknod of a disk: %+v", r)
	}
	if r := p.run("a", defaultProcess("mkfifo", "/tmp/fifo"), ""); r.status.Code != 0 {
		t.Errorf("mkfifo: %+v", r)
	}
	// The processes of a container share its domain: an exec reaches its
	// init's files, as a process reaches its children's.
	if r := p.run("a", defaultProcess("sh", "-c", "ls /proc/"+init+"/root/ | grep -c etc; ls /proc/"+init+"/fd | wc -l"), ""); r.status.Code != 0 || !strings.HasPrefix(r.stdout, "1\n") {
		t.Errorf("an exec of a and its init's root and fds: %+v", r)
	}
	if r := p.run("b", defaultProcess("ls", "/proc/"+init+"/root/"), ""); r.status.Code == 0 {
		t.Errorf("an exec of b reached a's init: %+v", r)
	}
	// Within one process tree the processes share a domain.
	spec = defaultProcess("sh", "-c", "sleep 60 & ls /proc/$!/root/ | grep -c etc; kill $!")
	if r := p.run("a", spec, ""); r.status.Code != 0 || strings.TrimSpace(r.stdout) != "1" {
		t.Errorf("a child's root: %+v", r)
	}
}

// TestHolderLifetime checks that a confined container's holder starts
// concurrent execs, and that once its init exits the container refuses
// execs and is removed as any other.
func TestHolderLifetime(t *testing.T) {
	p := bootPod(t)
	spec := protocol.ContainerSpec{ID: "short", Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}, MaskedPaths: dockerMasked}
	if err := p.v.Guest.CreateContainer(p.ctx, spec); err != nil {
		t.Fatal(err)
	}
	initSpec := defaultProcess("sh", "-c", "read x; echo bye")
	initSpec.Stdin = true
	init, err := p.v.Guest.Exec(p.ctx, "short", protocol.InitExec, initSpec)
	if err != nil {
		t.Fatal(err)
	}
	defer init.Close()
	go io.Copy(io.Discard, init.Stderr)
	if got := p.sh("short", "echo hi"); got != "hi" {
		t.Fatalf("exec: %q", got)
	}
	// Confined execs, started together, all through the holder.
	errc := make(chan error, 6)
	for i := 0; i < cap(errc); i++ {
		go func() {
			proc, err := p.v.Guest.Exec(p.ctx, "short", fmt.Sprintf("par%d", i), defaultProcess("echo", fmt.Sprint(i)))
			if err != nil {
				errc <- err
				return
			}
			defer proc.Close()
			go io.Copy(io.Discard, proc.Stderr)
			out, _ := io.ReadAll(proc.Stdout)
			if st, err := proc.Wait(p.ctx); err != nil || st.Code != 0 || string(out) != fmt.Sprintf("%d\n", i) {
				errc <- fmt.Errorf("exec %d: %q %+v %v", i, out, st, err)
				return
			}
			errc <- nil
		}()
	}
	for i := 0; i < cap(errc); i++ {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	init.Stdin.Close()
	if out, _ := io.ReadAll(init.Stdout); string(out) != "bye\n" {
		t.Fatalf("init said %q", out)
	}
	if st, err := init.Wait(p.ctx); err != nil || st.Code != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if _, err := p.v.Guest.Exec(p.ctx, "short", "late", defaultProcess("true")); err == nil {
		t.Fatal("exec after the init exited")
	}
	if err := p.v.Guest.RemoveContainer(p.ctx, "short"); err != nil {
		t.Fatal(err)
	}
}
