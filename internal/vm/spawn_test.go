package vm_test

import (
	"io"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

// TestStartPaths covers both ways a container process starts: directly
// from a hyperstart thread (the common case) and through the spawn child
// (a process with rlimits). Either sees the pod's PID namespace in /proc,
// with pod-init as PID 1 and hyperstart out of sight.
func TestStartPaths(t *testing.T) {
	p := bootPod(t)
	const script = "ulimit -n; cat /proc/1/comm; ps -o comm | grep -c hyperstart; hostname"
	for _, tc := range []struct {
		name    string
		rlimits []protocol.Rlimit
		nofile  string
	}{
		{"direct", nil, ""},
		{"spawn child for rlimits", []protocol.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}}, "123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.ReplaceAll(tc.name, " ", "-")
			if err := p.v.Guest.CreateContainer(p.ctx, protocol.ContainerSpec{ID: id, Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}}); err != nil {
				t.Fatal(err)
			}
			proc, err := p.v.Guest.Exec(p.ctx, id, protocol.InitExec, protocol.ProcessSpec{
				Args: []string{"sh", "-c", script}, Rlimits: tc.rlimits})
			if err != nil {
				t.Fatal(err)
			}
			defer proc.Close()
			go io.Copy(io.Discard, proc.Stderr)
			out, err := io.ReadAll(proc.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			if st, err := proc.Wait(p.ctx); err != nil || st.Code != 0 {
				t.Fatalf("status %+v, %v", st, err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 4 || lines[1] != "pod-init" || lines[2] != "0" || lines[3] != "testpod" ||
				tc.nofile != "" && lines[0] != tc.nofile {
				t.Fatalf("got %q", out)
			}
			if tc.nofile == "" && lines[0] == "123" {
				t.Fatalf("rlimit leaked into a direct start: %q", out)
			}
		})
	}
}
