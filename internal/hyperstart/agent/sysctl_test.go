package agent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestApplySysctls(t *testing.T) {
	// A fake /proc/sys, written from a thread in this process's own IPC
	// namespace: what is checked is the paths and the values.
	procSys := t.TempDir()
	for _, d := range []string{"net/ipv4", "kernel", "fs/mqueue"} {
		os.MkdirAll(filepath.Join(procSys, d), 0o755)
	}
	for _, f := range []string{"net/ipv4/ip_forward", "kernel/shmmax", "fs/mqueue/msg_max"} {
		os.WriteFile(filepath.Join(procSys, f), []byte("0\n"), 0o644)
	}
	ns, err := syscall.Open("/proc/self/ns/ipc", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ns)
	set := map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "68719476736", "fs/mqueue/msg_max": "20"}
	if err := validateSysctls(set); err != nil {
		t.Fatal(err)
	}
	if err := applySysctls(procSys, ns, set); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{"net/ipv4/ip_forward": "1", "kernel/shmmax": "68719476736", "fs/mqueue/msg_max": "20"} {
		if b, _ := os.ReadFile(filepath.Join(procSys, f)); string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
	err = applySysctls(procSys, ns, map[string]string{"net.ipv4.no_such_thing": "1"})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("missing parameter: %v", err)
	}
	if err := validateSysctls(map[string]string{"vm.swappiness": "1"}); code(err) != protocol.CodeInvalidArgument {
		t.Errorf("vm.swappiness accepted: %v", err)
	}
}
