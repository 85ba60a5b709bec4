package inroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// setup returns a root inside a directory that also holds "outside", a
// directory no write through the root may touch.
func setup(t testing.TB) (root, outside string) {
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root, outside, filepath.Join(root, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func open(t testing.TB, dir string) *Root {
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// untouched fails t if anything was created outside root.
func untouched(t testing.TB, root, outside string) {
	t.Helper()
	ents, _ := os.ReadDir(outside)
	if len(ents) > 0 {
		t.Fatalf("a write escaped the root: %s has %v", outside, ents)
	}
	ents, _ = os.ReadDir(filepath.Dir(root))
	if len(ents) != 2 {
		t.Fatalf("a write escaped the root: %s has %v", filepath.Dir(root), ents)
	}
}

func TestWriteFile(t *testing.T) {
	root, outside := setup(t)
	r := open(t, root)
	if err := r.WriteFile(File{Path: "/root/test/t2", Content: []byte("hello"), Mode: 0o4755, UID: 1000, GID: 1001}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "root/test/t2")
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello" {
		t.Fatalf("content %q, %v", b, err)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode()&(fs.ModePerm|fs.ModeSetuid) != 0o755|fs.ModeSetuid || sys.Uid != 1000 || sys.Gid != 1001 {
		t.Errorf("mode %v, owner %d:%d", st.Mode(), sys.Uid, sys.Gid)
	}
	if st, _ := os.Stat(filepath.Join(root, "root/test")); !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Errorf("parent directory: %v", st.Mode())
	}
	// Replacing a longer file truncates it; mode 0000 is honoured.
	if err := r.WriteFile(File{Path: "root/test/t2", Content: []byte("x"), Mode: 0}); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	st, _ = os.Stat(p)
	if string(b) != "x" || st.Mode().Perm() != 0 {
		t.Errorf("rewritten: %q, %v", b, st.Mode())
	}
	untouched(t, root, outside)
}

func TestWriteFileStaysInRoot(t *testing.T) {
	root, outside := setup(t)
	links := map[string]string{
		"etc/abs":      outside,                  // absolute, to the host's (VM's) tree
		"etc/rel":      "../../outside",          // relative, climbing out
		"etc/file":     outside + "/f",           // a final component pointing out
		"etc/dangling": "../../../outside/new/x", // dangling, with O_CREAT
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	r := open(t, root)
	for _, p := range []string{"/../../outside/a", "/etc/abs/b", "/etc/rel/c", "/etc/file", "/etc/abs/sub/d", "/etc/dangling"} {
		err := r.WriteFile(File{Path: p, Content: []byte("x"), Mode: 0o644})
		t.Logf("%s: %v", p, err)
	}
	untouched(t, root, outside)
	// What resolved inside the root landed there: ".." of "/" is "/".
	for _, p := range []string{"outside/a", "outside/c"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("the root's /%s: %v", p, err)
		}
	}
}

func TestWriteFileRefusesSpecialFiles(t *testing.T) {
	root, outside := setup(t)
	if err := syscall.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := open(t, root)
	for p, want := range map[string]string{
		"/etc/fifo":   "not a regular file",
		"/etc":        "is a directory",
		"/":           "root directory",
		"/etc/fifo/x": "not a directory",
	} {
		err := r.WriteFile(File{Path: p, Mode: 0o644})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", p, err, want)
		}
	}
	if err := r.WriteFile(File{Path: "/x", Mode: 0o10000}); err == nil {
		t.Error("mode 010000 accepted")
	}
	untouched(t, root, outside)
}

func TestOpenRegular(t *testing.T) {
	root, outside := setup(t)
	os.WriteFile(filepath.Join(outside, "passwd"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(root, "etc/passwd"))
	r := open(t, root)
	if _, err := r.OpenRegular("/etc/passwd"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a symlink out of the root was followed out: %v", err)
	}
	if _, err := r.OpenRegular("/etc"); err == nil {
		t.Error("a directory opened as a regular file")
	}
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("g"), 0o644)
	f, err := r.OpenRegular("/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// FuzzWriteFile writes at any path through a symlink of any target: the
// image is untrusted, and nothing may land outside the root.
func FuzzWriteFile(f *testing.F) {
	f.Add("/etc/l/x", "../../outside")
	f.Add("/a/../../b", "/")
	f.Add("/etc/l", "..")
	f.Add("etc/l/../../../x", "/outside/y")
	f.Fuzz(func(t *testing.T, p, target string) {
		if strings.IndexByte(p, 0) >= 0 || strings.IndexByte(target, 0) >= 0 || target == "" || len(p) > 512 || len(target) > 512 {
			return
		}
		root, outside := setup(t)
		if err := os.Symlink(target, filepath.Join(root, "etc/l")); err != nil {
			t.Fatal(err)
		}
		r := open(t, root)
		r.WriteFile(File{Path: p, Content: []byte("x"), Mode: 0o644})
		untouched(t, root, outside)
	})
}
