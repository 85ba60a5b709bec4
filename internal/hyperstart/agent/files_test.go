package agent

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestWriteFiles(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nwww:x:34:\nstaff:x:50:\n"), 0o644)
	files := []protocol.FileSpec{
		{Path: "/etc/app/a.conf", Content: []byte("a"), Mode: 0o640, User: "www"},
		{Path: "/b", Content: []byte("b"), Mode: 0o600, User: "1000", Group: "staff"},
		{Path: "/c", Mode: 0o644, Group: "7"},
	}
	if err := validateFiles(files); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(root, files); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][3]uint32{"etc/app/a.conf": {0o640, 33, 34}, "b": {0o600, 1000, 50}, "c": {0o644, 0, 7}} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, p), &st); err != nil {
			t.Fatal(err)
		}
		if got := [3]uint32{st.Mode & 0o7777, st.Uid, st.Gid}; got != want {
			t.Errorf("%s: mode, uid, gid %o, want %o", p, got, want)
		}
	}
}

func TestWriteFilesErrors(t *testing.T) {
	root := t.TempDir()
	for _, f := range []protocol.FileSpec{
		{Path: "/x", User: "nobody-here"},
		{Path: "/x", Group: "nogroup-here"},
	} {
		if err := writeFiles(root, []protocol.FileSpec{f}); code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%+v: %v", f, err)
		}
	}
	for _, f := range []protocol.FileSpec{
		{Path: "relative"}, {Path: "/"}, {Path: "/a/.."}, {Path: "/x", Mode: 0o10000}, {Path: "/x", User: "a:b"},
	} {
		if err := validateFiles([]protocol.FileSpec{f}); code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%+v accepted: %v", f, err)
		}
	}
}

func TestVMContainer(t *testing.T) {
	a := newTestAgent(t)
	ctx := context.Background()
	_, err := a.ExecProcess(ctx, protocol.ExecRequest{Container: protocol.VMContainer, Exec: protocol.InitExec,
		Process: protocol.ProcessSpec{Args: []string{"sh"}}})
	if code(err) != protocol.CodeConflict {
		t.Errorf("init in the VM: %v", err)
	}
	if _, err := a.WaitProcess(ctx, protocol.ProcessRef{Container: protocol.VMContainer, Exec: "e1"}); code(err) != protocol.CodeNotFound {
		t.Errorf("wait for an unknown VM process: %v", err)
	}
	if _, err := a.StopContainer(ctx, protocol.StopRequest{Container: protocol.VMContainer}); code(err) != protocol.CodeInvalidArgument {
		t.Errorf("stopping the VM as a container: %v", err)
	}
	if _, err := a.RemoveContainer(ctx, protocol.ContainerRef{Container: protocol.VMContainer}); code(err) != protocol.CodeInvalidArgument {
		t.Errorf("removing the VM as a container: %v", err)
	}
	_, err = a.CreateContainer(ctx, protocol.ContainerSpec{ID: protocol.VMContainer, Rootfs: protocol.RootfsSpec{DiskSerial: "img0"}})
	if code(err) != protocol.CodeInvalidArgument {
		t.Errorf("a container named %s: %v", protocol.VMContainer, err)
	}
}
