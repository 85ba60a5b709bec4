package e2e

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCpDiff: hyperctl cp both ways (files, directories, modes, -a
// owners, "-" tar streams), symlinks that would lead out of the
// container's root stay in it, a read-only root refuses a copy, diff
// lists a writable layer's changes, export archives the merged root and
// a stopped pod refuses cp. One VM.
func TestCpDiff(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	dir := t.TempDir()
	pod := filepath.Join(dir, "cp.pod")
	os.WriteFile(pod, []byte(`{
  "id": "cpp",
  "containers": [
    {"name": "main", "image": "busybox", "command": ["sleep", "1000"]},
    {"name": "ro", "image": "busybox", "command": ["sleep", "1000"], "readOnly": true}
  ]
}`), 0o644)
	h.ok("run", "-d", "-p", pod)
	sh := func(args ...string) string { return h.ok(append([]string{"exec", "-c", "main", "cpp"}, args...)...) }

	// Host to container: a directory into a missing destination, then
	// into an existing one; a file keeps its mode.
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o640)
	os.WriteFile(filepath.Join(src, "sub", "b.txt"), []byte("beta\n"), 0o600)
	os.Symlink("a.txt", filepath.Join(src, "link"))
	os.Chown(filepath.Join(src, "a.txt"), 1234, 5678)
	h.ok("cp", src, "cpp:/dst")
	if got := sh("cat", "/dst/a.txt", "/dst/sub/b.txt", "/dst/link"); got != "alpha\nbeta\nalpha\n" {
		t.Errorf("copied directory: %q", got)
	}
	if got := strings.TrimSpace(sh("stat", "-c", "%a %u %g", "/dst/a.txt")); got != "640 0 0" {
		t.Errorf("copied file without -a: mode uid gid %q, want 640 0 0", got)
	}
	h.ok("cp", "-a", src, "cpp/main:/dst")
	if got := strings.TrimSpace(sh("stat", "-c", "%a %u %g", "/dst/src/a.txt")); got != "640 1234 5678" {
		t.Errorf("cp -a: mode uid gid %q, want 640 1234 5678", got)
	}
	h.ok("cp", filepath.Join(src, "a.txt"), "cpp:/etc/renamed.txt")
	if got := sh("cat", "/etc/renamed.txt"); got != "alpha\n" {
		t.Errorf("file to a new name: %q", got)
	}
	if _, errs, code := h.run("", "cp", filepath.Join(src, "a.txt"), "cpp:/nowhere/"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("cp to a missing directory: exit %d, %s", code, errs)
	}

	// Container to host.
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	h.ok("cp", "cpp:/dst", out)
	if b, _ := os.ReadFile(filepath.Join(out, "dst", "sub", "b.txt")); string(b) != "beta\n" {
		t.Errorf("directory from the container: %q", b)
	}
	if fi, err := os.Stat(filepath.Join(out, "dst", "a.txt")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("file from the container: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(out, "dst", "link")); l != "a.txt" {
		t.Errorf("symlink from the container: %q", l)
	}
	h.ok("cp", "cpp:/etc/hostname", filepath.Join(out, "hn"))
	if b, _ := os.ReadFile(filepath.Join(out, "hn")); strings.TrimSpace(string(b)) == "" {
		t.Errorf("/etc/hostname from the container is empty")
	}
	h.ok("cp", "cpp:/dst/.", filepath.Join(out, "contents"))
	if b, _ := os.ReadFile(filepath.Join(out, "contents", "a.txt")); string(b) != "alpha\n" {
		t.Errorf("dir/. from the container: %q", b)
	}
	tarOut := h.ok("cp", "cpp:/dst/sub", "-")
	if !strings.Contains(tarOut, "sub/b.txt") || !strings.Contains(tarOut, "beta") {
		t.Errorf("cp to -: not a tar of sub: %q", tarOut)
	}

	// Symlinks of the container resolve inside its root: the VM's own
	// files stay out of reach both ways.
	h.ok("exec", "--vm", "cpp", "sh", "-c", "echo vmsecret > /vmsecret")
	sh("ln", "-s", "/../../../../../vmsecret", "/esc")
	sh("ln", "-s", "../../../../../..", "/up")
	if _, errs, code := h.run("", "cp", "-L", "cpp:/esc", filepath.Join(out, "esc")); code == 0 {
		t.Errorf("cp -L of a symlink out of the root succeeded: %s", errs)
	}
	if _, errs, code := h.run("", "cp", "cpp:/up/vmsecret", filepath.Join(out, "esc2")); code == 0 {
		t.Errorf("cp through a symlink out of the root succeeded: %s", errs)
	}
	h.ok("cp", filepath.Join(src, "a.txt"), "cpp:/up/planted.txt")
	if got := sh("cat", "/planted.txt"); got != "alpha\n" {
		t.Errorf("cp through /up: %q, want it at the container's /planted.txt", got)
	}
	if _, _, code := h.run("", "exec", "--vm", "cpp", "test", "-e", "/planted.txt"); code == 0 {
		t.Errorf("cp through a symlink wrote into the VM's root")
	}

	// A read-only root refuses.
	if _, errs, code := h.run("", "cp", filepath.Join(src, "a.txt"), "cpp/ro:/tmp/"); code == 0 || !strings.Contains(errs, "read-only") {
		t.Errorf("cp into a read-only root: exit %d, %s", code, errs)
	}

	// diff after touch, rm, mkdir.
	sh("touch", "/newfile")
	sh("mkdir", "/newdir")
	sh("rm", "/bin/ls")
	diff := h.ok("diff", "cpp")
	for _, want := range []string{"A /newfile", "A /newdir", "D /bin/ls", "C /bin", "A /dst/sub/b.txt", "C /etc"} {
		if !strings.Contains(diff, want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if got := h.ok("diff", "cpp/ro"); got != "" {
		t.Errorf("diff of a read-only root: %q", got)
	}

	// export: the merged root, changes included (without the symlinks
	// climbing out, which the image store refuses in an import).
	sh("rm", "/up", "/esc")
	exp := filepath.Join(dir, "export.tar")
	h.ok("export", "cpp", "-o", exp)
	names := tarNames(t, exp)
	for _, want := range []string{"bin/busybox", "newfile", "dst/sub/b.txt", "etc/"} {
		if !names[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	if names["bin/ls"] {
		t.Errorf("export has the deleted bin/ls")
	}

	// commit: the writable layer on top of the image; what was deleted
	// stays deleted.
	h.ok("commit", "-c", `CMD ["cat", "/newdir/../dst/a.txt"]`, "-m", "committed", "-a", "me", "cpp/main", "committed:1")
	if got := h.ok("images"); !strings.Contains(got, "committed") {
		t.Errorf("images lacks the committed image:\n%s", got)
	}
	if got := h.ok("run", "--rm", "committed:1"); got != "alpha\n" {
		t.Errorf("committed image ran: %q", got)
	}
	if _, _, code := h.run("", "run", "--rm", "committed:1", "test", "-e", "/bin/ls"); code != 1 {
		t.Errorf("committed image has the deleted /bin/ls (exit %d)", code)
	}
	if _, _, code := h.run("", "run", "--rm", "committed:1", "test", "-f", "/newfile"); code != 0 {
		t.Errorf("committed image lacks /newfile (exit %d)", code)
	}

	// import: the export as a one-layer image that runs.
	h.ok("import", "-c", `CMD ["cat", "/dst/a.txt"]`, "-m", "from cpp", exp, "fromexport:1")
	if got := h.ok("images"); !strings.Contains(got, "fromexport") {
		t.Errorf("images lacks the imported image:\n%s", got)
	}
	if got := h.ok("run", "--rm", "fromexport:1"); got != "alpha\n" {
		t.Errorf("imported image ran: %q", got)
	}
	if _, _, code := h.run("", "run", "--rm", "fromexport:1", "test", "-e", "/bin/ls"); code != 1 {
		t.Errorf("imported image has the deleted /bin/ls (exit %d)", code)
	}
	hostile := filepath.Join(dir, "hostile.tar")
	writeTar(t, hostile, "../../escape")
	if _, errs, code := h.run("", "import", hostile, "hostile"); code == 0 || errs == "" {
		t.Errorf("import of a hostile tarball: exit %d, %s", code, errs)
	}

	h.ok("stop", "cpp")
	if _, errs, code := h.run("", "cp", "cpp:/etc/hostname", out); code == 0 || !strings.Contains(errs, "is not running") {
		t.Errorf("cp from a stopped pod: exit %d, %s", code, errs)
	}
}

// tarNames lists the entry names of a tar file.
func tarNames(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading %s: %v", file, err)
		}
		names[hdr.Name] = true
	}
}

// writeTar writes a tar file of one regular file per name.
func writeTar(t *testing.T, file string, names ...string) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
		tw.Write([]byte("x"))
	}
	tw.Close()
	f.Close()
}
