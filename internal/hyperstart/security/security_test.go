package security

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// dockerDefault is Docker's default capability set.
var dockerDefault = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

func TestCapNames(t *testing.T) {
	if len(capNames) != lastCap+1 {
		t.Fatalf("%d names for %d capabilities", len(capNames), lastCap+1)
	}
	seen := map[uint]string{}
	for n, c := range capNames {
		if prev, ok := seen[c]; ok {
			t.Errorf("%s and %s are both %d", n, prev, c)
		}
		seen[c] = n
	}
	for name, want := range map[string]uint{"CAP_CHOWN": 0, "CAP_SYS_ADMIN": 21, "CAP_SETFCAP": 31, "CAP_CHECKPOINT_RESTORE": 40} {
		if c, ok := CapByName(name); !ok || c != want {
			t.Errorf("%s = %d, %v; want %d", name, c, ok, want)
		}
	}
	s, err := ParseCapSet("test", dockerDefault)
	if err != nil {
		t.Fatal(err)
	}
	// Docker's default set as in /proc/PID/status.
	if s != 0xa80425fb {
		t.Errorf("docker default = %#x, want 0xa80425fb", uint64(s))
	}
	if got := CapSet(1<<unix.CAP_KILL | 1).String(); got != "CAP_CHOWN,CAP_KILL" {
		t.Errorf("String = %q", got)
	}
}

func TestParseCaps(t *testing.T) {
	c, err := ParseCaps(&protocol.Capabilities{Bounding: dockerDefault, Effective: dockerDefault,
		Permitted: dockerDefault, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bounding != 0xa80425fb || c.Ambient != 1<<unix.CAP_KILL {
		t.Fatalf("%+v", c)
	}
	if _, err := ParseCaps(&protocol.Capabilities{}); err != nil {
		t.Fatalf("empty sets: %v", err)
	}
	for name, bad := range map[string]protocol.Capabilities{
		"unknown":               {Bounding: []string{"CAP_FLY"}},
		"lower case":            {Effective: []string{"cap_chown"}},
		"no prefix":             {Permitted: []string{"CHOWN"}},
		"effective not perm":    {Effective: []string{"CAP_KILL"}},
		"ambient not inherited": {Bounding: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}},
		"ambient not permitted": {Bounding: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"}},
		"inheritable unbounded": {Permitted: []string{"CAP_KILL"}, Inheritable: []string{"CAP_KILL"}},
	} {
		if _, err := ParseCaps(&bad); errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
	}
}

func insn(code uint16, jt, jf uint8, k uint32) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint16(b, code)
	b[2], b[3] = jt, jf
	binary.LittleEndian.PutUint32(b[4:], k)
	return b
}

func TestParseSeccomp(t *testing.T) {
	prog := append(insn(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0, 0, 0), insn(unix.BPF_RET|unix.BPF_K, 1, 2, unix.SECCOMP_RET_ALLOW)...)
	got, err := ParseSeccomp(&protocol.SeccompFilter{Program: prog})
	if err != nil {
		t.Fatal(err)
	}
	want := []unix.SockFilter{{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS}, {Code: unix.BPF_RET | unix.BPF_K, Jt: 1, Jf: 2, K: unix.SECCOMP_RET_ALLOW}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v", got)
	}
	max := make([]byte, 8*protocol.MaxSeccompInstructions)
	if _, err := ParseSeccomp(&protocol.SeccompFilter{Program: max}); err != nil {
		t.Fatalf("longest program: %v", err)
	}
	for name, bad := range map[string][]byte{
		"empty":    nil,
		"partial":  prog[:12],
		"too long": append(max, prog[:8]...),
	} {
		if _, err := ParseSeccomp(&protocol.SeccompFilter{Program: bad}); errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
	}
}

func TestParse(t *testing.T) {
	umask, big := uint32(0o077), uint32(0o1000)
	oom, low, high := 500, -1001, 1001
	pr, err := Parse(&protocol.ProcessSpec{Args: []string{"x"}})
	if err != nil || pr.Umask != DefaultUmask || pr.Caps != nil || pr.Isolated || !pr.OnThread() {
		t.Fatalf("defaults: %+v %v", pr, err)
	}
	pr, err = Parse(&protocol.ProcessSpec{NoNewPrivileges: true, Umask: &umask})
	if err != nil || pr.Umask != 0o077 || !pr.OnThread() {
		t.Fatalf("umask and nnp stay on a thread: %+v %v", pr, err)
	}
	pr, err = Parse(&protocol.ProcessSpec{OOMScoreAdj: &oom, Capabilities: &protocol.Capabilities{Bounding: dockerDefault}})
	if err != nil || *pr.OOMScoreAdj != 500 || !pr.Isolated || pr.OnThread() {
		t.Fatalf("%+v %v", pr, err)
	}
	all := make([]string, 0, len(capNames))
	for n := range capNames {
		all = append(all, n)
	}
	if pr, err := Parse(&protocol.ProcessSpec{Capabilities: &protocol.Capabilities{Bounding: all}}); err != nil || pr.Isolated || pr.Caps == nil {
		t.Fatalf("a process with CAP_SYS_ADMIN is not isolated: %+v %v", pr, err)
	}
	pr, err = Parse(&protocol.ProcessSpec{Capabilities: &protocol.Capabilities{Bounding: all, Effective: all, Permitted: all}})
	if err != nil || pr.Caps != nil || !pr.OnThread() {
		t.Fatalf("every capability is hyperstart's own: %+v %v", pr, err)
	}
	for name, bad := range map[string]protocol.ProcessSpec{
		"umask":    {Umask: &big},
		"oom low":  {OOMScoreAdj: &low},
		"oom high": {OOMScoreAdj: &high},
		"caps":     {Capabilities: &protocol.Capabilities{Ambient: []string{"CAP_X"}}},
		"seccomp":  {Seccomp: &protocol.SeccompFilter{Program: []byte{1}}},
	} {
		if _, err := Parse(&bad); errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
	}
}

func TestValidatePaths(t *testing.T) {
	if err := ValidatePaths("masked path", []string{"/proc/kcore", "/sys/firmware", "/"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"proc/kcore", "", "/proc/../etc", "/proc/", "/proc//kcore", "/a\x00b", "/./x"} {
		err := ValidatePaths("masked path", []string{p})
		if errs.Code(err) != protocol.CodeInvalidArgument || !strings.Contains(err.Error(), "masked path") {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func FuzzParseSeccomp(f *testing.F) {
	f.Add([]byte{})
	f.Add(insn(unix.BPF_RET|unix.BPF_K, 0, 0, unix.SECCOMP_RET_ALLOW))
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		prog, err := ParseSeccomp(&protocol.SeccompFilter{Program: b})
		if err != nil {
			if errs.Code(err) != protocol.CodeInvalidArgument {
				t.Fatalf("error of code %q: %v", errs.Code(err), err)
			}
			return
		}
		if len(prog)*8 != len(b) || len(prog) == 0 || len(prog) > protocol.MaxSeccompInstructions {
			t.Fatalf("%d instructions from %d bytes", len(prog), len(b))
		}
		if prog[0].Code != binary.LittleEndian.Uint16(b) || prog[len(prog)-1].K != binary.LittleEndian.Uint32(b[len(b)-4:]) {
			t.Fatal("decoded wrong")
		}
	})
}
