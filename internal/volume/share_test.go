package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	os.MkdirAll(filepath.Join(state, "pods"), 0o700)
	os.MkdirAll(data, 0o755)
	os.Symlink(data, filepath.Join(dir, "to-data"))
	os.Symlink(filepath.Join(state, "pods"), filepath.Join(dir, "escape"))

	if real, missing, err := Resolve(filepath.Join(dir, "to-data"), state); err != nil || missing || real != data {
		t.Errorf("symlink to data: %q %v %v", real, missing, err)
	}
	if real, missing, err := Resolve(filepath.Join(data, "new"), state); err != nil || !missing || real != filepath.Join(data, "new") {
		t.Errorf("missing: %q %v %v", real, missing, err)
	}
	for name, p := range map[string]string{
		"relative":       "data",
		"no parent":      filepath.Join(dir, "nope", "nope"),
		"state":          filepath.Join(state, "pods"),
		"symlink escape": filepath.Join(dir, "escape"),
	} {
		if _, _, err := Resolve(p, state); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		} else if name == "symlink escape" && !strings.Contains(err.Error(), "symlink") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBindShare(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to bind-mount")
	}
	dir := t.TempDir()
	rw, ro := filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	os.Mkdir(rw, 0o755)
	os.Mkdir(ro, 0o755)
	file := filepath.Join(dir, "f.conf")
	os.WriteFile(file, []byte("x"), 0o644)
	share := filepath.Join(dir, "share")
	err := BindShare(share, []HostPath{{Entry: "rw", Path: rw}, {Entry: "ro", Path: ro, ReadOnly: true}, {Entry: "f", Path: file}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(share, "rw", "a"), []byte("a"), 0o644); err != nil {
		t.Errorf("write through rw: %v", err)
	}
	if err := os.WriteFile(filepath.Join(share, "ro", "a"), []byte("a"), 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write through ro: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(share, "f")); string(b) != "x" {
		t.Errorf("file entry reads %q", b)
	}
	if err := UnbindShare(share); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(share); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("share left: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "a")); err != nil || string(b) != "a" {
		t.Errorf("host file after unbind: %q %v", b, err)
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Error("host file lost")
	}
	// A path swapped for a symlink after resolving is refused.
	os.Rename(rw, rw+".old")
	os.Symlink("/etc", rw)
	if err := BindShare(share, []HostPath{{Entry: "rw", Path: rw}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("swapped symlink: %v", err)
	}
	if _, err := os.Stat(share); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("share left after a failed bind: %v", err)
	}
}
