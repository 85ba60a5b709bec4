package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// defaultCaps is Docker's default capability set.
var defaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
	"CAP_AUDIT_WRITE"}

// call is a seccomp_data input.
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// run runs prog on c in x/net/bpf's interpreter. Its loads are
// big-endian where the kernel's are native: every 32-bit word of
// seccomp_data is written big-endian so that each load reads the value
// the kernel's would.
func run(t *testing.T, prog []byte, c call) uint32 {
	t.Helper()
	ins, err := Decode(prog)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]byte, 64)
	binary.BigEndian.PutUint32(in[offNr:], c.nr)
	binary.BigEndian.PutUint32(in[offArch:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(in[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(in[offArgs+8*i+4:], uint32(a>>32))
	}
	out, err := vm.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(out)
}

func nr(t *testing.T, name string) uint32 {
	t.Helper()
	n, ok := arch.X86_64.SyscallNames[name]
	if !ok {
		t.Fatalf("no syscall %s", name)
	}
	return uint32(n)
}

func compile(t *testing.T, p *Profile, caps []string) []byte {
	t.Helper()
	f, err := Compile(p, caps)
	if err != nil {
		t.Fatal(err)
	}
	return f.Program
}

const (
	cloneNewNS   = 0x00020000
	cloneNewUser = 0x10000000
	cloneThread  = 0x00010000
)

func TestDefaultProfile(t *testing.T) {
	prog := compile(t, Default(), defaultCaps)
	t.Logf("default profile, default caps: %d instructions", len(prog)/8)
	x := func(name string, args ...uint64) call {
		c := call{arch: auditArchX86_64, nr: nr(t, name)}
		copy(c.args[:], args)
		return c
	}
	for _, tc := range []struct {
		what string
		c    call
		want uint32
	}{
		{"read", x("read"), retAllow},
		{"execve", x("execve"), retAllow},
		{"mount (CAP_SYS_ADMIN only)", x("mount"), retErrno | eperm},
		{"unshare", x("unshare"), retErrno | eperm},
		{"keyctl", x("keyctl"), retErrno | eperm},
		{"add_key", x("add_key"), retErrno | eperm},
		{"reboot (CAP_SYS_BOOT only)", x("reboot"), retErrno | eperm},
		{"init_module", x("init_module"), retErrno | eperm},
		{"settimeofday", x("settimeofday"), retErrno | eperm},
		{"clock_settime", x("clock_settime"), retErrno | eperm},
		{"chroot (CAP_SYS_CHROOT)", x("chroot"), retAllow},
		{"clone of a thread", x("clone", cloneThread), retAllow},
		{"clone with CLONE_NEWNS", x("clone", cloneNewNS), retErrno | eperm},
		{"clone with CLONE_NEWUSER", x("clone", cloneNewUser|cloneThread), retErrno | eperm},
		{"clone3 (ENOSYS: libc falls back to clone)", x("clone3"), retErrno | 38},
		{"socket AF_INET", x("socket", 2), retAllow},
		{"socket AF_UNIX", x("socket", 1), retAllow},
		{"socket AF_VSOCK", x("socket", 40), retErrno | eperm},
		{"socket AF_INET, high half set", x("socket", 2|1<<32), retErrno | eperm},
		{"personality 0", x("personality", 0), retAllow},
		{"personality 0xffffffff", x("personality", 0xffffffff), retAllow},
		{"personality 1", x("personality", 1), retErrno | eperm},
		{"unknown syscall", call{arch: auditArchX86_64, nr: 999}, retErrno | eperm},
		{"i386", call{arch: 0x40000003, nr: 3}, retKillProcess},
		{"x32 read (listed in the profile: default action)", call{arch: auditArchX86_64, nr: x32Bit}, retErrno | eperm},
	} {
		if got := run(t, prog, tc.c); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.what, got, tc.want)
		}
	}
}

func TestDefaultProfileCapabilities(t *testing.T) {
	admin := compile(t, Default(), append([]string{"CAP_SYS_ADMIN"}, defaultCaps...))
	for _, name := range []string{"mount", "unshare", "clone3"} {
		if got := run(t, admin, call{arch: auditArchX86_64, nr: nr(t, name)}); got != retAllow {
			t.Errorf("CAP_SYS_ADMIN: %s: got %#x, want ALLOW", name, got)
		}
	}
	c := call{arch: auditArchX86_64, nr: nr(t, "clone")}
	c.args[0] = cloneNewNS
	if got := run(t, admin, c); got != retAllow {
		t.Errorf("CAP_SYS_ADMIN: clone(CLONE_NEWNS): got %#x, want ALLOW", got)
	}
	none := compile(t, Default(), nil)
	if got := run(t, none, call{arch: auditArchX86_64, nr: nr(t, "chroot")}); got != retErrno|eperm {
		t.Errorf("no caps: chroot: got %#x, want EPERM", got)
	}
	if got := run(t, none, call{arch: auditArchX86_64, nr: nr(t, "getpid")}); got != retAllow {
		t.Errorf("no caps: getpid: got %#x, want ALLOW", got)
	}
}

// TestOperators checks every comparison on values whose halves differ.
func TestOperators(t *testing.T) {
	const v = 0x1_0000_0005
	for _, tc := range []struct {
		op                 string
		below, at, above   uint32
		belowHi, aboveLoHi uint32
	}{
		{"SCMP_CMP_EQ", 0, 1, 0, 0, 0},
		{"SCMP_CMP_NE", 1, 0, 1, 1, 1},
		{"SCMP_CMP_LT", 1, 0, 0, 1, 0},
		{"SCMP_CMP_LE", 1, 1, 0, 1, 0},
		{"SCMP_CMP_GT", 0, 0, 1, 0, 1},
		{"SCMP_CMP_GE", 0, 1, 1, 0, 1},
	} {
		p, err := Parse([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW",
			"args":[{"index":2,"value":4294967301,"op":"` + tc.op + `"}]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		prog := compile(t, p, nil)
		for _, in := range []struct {
			arg  uint64
			want uint32
		}{{v - 1, tc.below}, {v, tc.at}, {v + 1, tc.above}, {5, tc.belowHi}, {0x2_0000_0000, tc.aboveLoHi}} {
			c := call{arch: auditArchX86_64, nr: nr(t, "read")}
			c.args[2] = in.arg
			want := uint32(retErrno | eperm)
			if in.want == 1 {
				want = retAllow
			}
			if got := run(t, prog, c); got != want {
				t.Errorf("%s: arg %#x: got %#x, want %#x", tc.op, in.arg, got, want)
			}
		}
	}
}

func TestMaskedEqualAndActions(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":5,"architectures":["SCMP_ARCH_X86_64"],"syscalls":[
		{"names":["write"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":0,"value":4294967295,"valueTwo":2,"op":"SCMP_CMP_MASKED_EQ"}]},
		{"names":["write"],"action":"SCMP_ACT_LOG"},
		{"names":["kill"],"action":"SCMP_ACT_KILL"},
		{"names":["tkill"],"action":"SCMP_ACT_KILL_PROCESS"},
		{"names":["getpid"],"action":"SCMP_ACT_TRAP"},
		{"names":["getppid"],"action":"SCMP_ACT_TRACE","errnoRet":7},
		{"names":["uname"],"action":"SCMP_ACT_ERRNO"},
		{"names":["no_such_syscall"],"action":"SCMP_ACT_ERRNO"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	prog := compile(t, p, nil)
	w := func(fd uint64) call { return call{arch: auditArchX86_64, nr: nr(t, "write"), args: [6]uint64{fd}} }
	for _, tc := range []struct {
		what string
		c    call
		want uint32
	}{
		{"write fd 2", w(2), retErrno | 13},
		{"write fd 2 with high bits", w(0xff_0000_0002), retErrno | 13},
		{"write fd 1 (fallback)", w(1), retLog},
		{"kill", call{arch: auditArchX86_64, nr: nr(t, "kill")}, retKillThread},
		{"tkill", call{arch: auditArchX86_64, nr: nr(t, "tkill")}, retKillProcess},
		{"getpid", call{arch: auditArchX86_64, nr: nr(t, "getpid")}, retTrap},
		{"getppid", call{arch: auditArchX86_64, nr: nr(t, "getppid")}, retTrace | 7},
		{"uname", call{arch: auditArchX86_64, nr: nr(t, "uname")}, retErrno | eperm},
		{"read: default", call{arch: auditArchX86_64, nr: nr(t, "read")}, retAllow},
		{"x32 not listed", call{arch: auditArchX86_64, nr: x32Bit | 1}, retKillProcess},
	} {
		if got := run(t, prog, tc.c); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.what, got, tc.want)
		}
	}
}

// TestSameArgumentIsOr: two conditions on one argument are two rules
// (runc's reading), on two arguments one.
func TestSameArgumentIsOr(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
		{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":3,"op":"SCMP_CMP_EQ"}]},
		{"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":3,"op":"SCMP_CMP_EQ"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	prog := compile(t, p, nil)
	for _, tc := range []struct {
		name string
		a0   uint64
		a1   uint64
		want uint32
	}{
		{"read", 1, 0, retAllow}, {"read", 3, 0, retAllow}, {"read", 2, 0, retErrno | eperm},
		{"write", 1, 3, retAllow}, {"write", 1, 0, retErrno | eperm}, {"write", 3, 3, retErrno | eperm},
	} {
		c := call{arch: auditArchX86_64, nr: nr(t, tc.name), args: [6]uint64{tc.a0, tc.a1}}
		if got := run(t, prog, c); got != tc.want {
			t.Errorf("%s(%d, %d): got %#x, want %#x", tc.name, tc.a0, tc.a1, got, tc.want)
		}
	}
}

func TestIncludesExcludes(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
		{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN","CAP_CHOWN"]}},
		{"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_CHOWN"]}},
		{"names":["getpid"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["arm64"]}},
		{"names":["getppid"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"6.2"}},
		{"names":["uname"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"5.10"}},
		{"names":["close"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8","arches":["amd64"]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caps    []string
		allowed map[string]bool
	}{
		{[]string{"CAP_CHOWN"}, map[string]bool{"read": false, "write": false, "getpid": false, "getppid": false, "uname": false, "close": true}},
		{[]string{"CAP_CHOWN", "CAP_SYS_ADMIN"}, map[string]bool{"read": true, "write": false}},
		{nil, map[string]bool{"read": false, "write": true}},
	} {
		prog := compile(t, p, tc.caps)
		for name, allowed := range tc.allowed {
			want := uint32(retErrno | eperm)
			if allowed {
				want = retAllow
			}
			if got := run(t, prog, call{arch: auditArchX86_64, nr: nr(t, name)}); got != want {
				t.Errorf("caps %v: %s: got %#x, want %#x", tc.caps, name, got, want)
			}
		}
	}
}

func TestBadProfiles(t *testing.T) {
	for _, s := range []string{
		``, `[]`, `{}`, `{"defaultAction":"SCMP_ACT_ALLOW"} x`,
		`{"defaultAction":"SCMP_ACT_NOPE"}`,
		`{"defaultAction":"SCMP_ACT_NOTIFY"}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ERRNO"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}`,
	} {
		p, err := Parse([]byte(s))
		if err == nil {
			_, err = Compile(p, nil)
		}
		if err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

func TestLegacyName(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"uname","action":"SCMP_ACT_ERRNO"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, compile(t, p, nil), call{arch: auditArchX86_64, nr: nr(t, "uname")}); got != retErrno|eperm {
		t.Errorf("uname: got %#x", got)
	}
}

func TestCache(t *testing.T) {
	a := compile(t, Default(), defaultCaps)
	b := compile(t, Default(), defaultCaps[:len(defaultCaps)-3]) // without CAP_SYS_CHROOT
	c := compile(t, Default(), defaultCaps)
	if &a[0] != &c[0] {
		t.Error("the same profile and caps compiled twice")
	}
	if string(a) == string(b) {
		t.Error("different caps, same program")
	}
}

func BenchmarkCompileDefault(b *testing.B) {
	r, err := resolve(Default(), defaultCaps)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.compile(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	def, err := json.Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		f, err := Compile(p, []string{"CAP_SYS_ADMIN"})
		if err != nil {
			return
		}
		if len(f.Program) == 0 || len(f.Program)%8 != 0 || len(f.Program)/8 > 4096 {
			t.Fatalf("program of %d bytes", len(f.Program))
		}
		if _, err := Decode(f.Program); err != nil {
			t.Fatal(err)
		}
	})
}
