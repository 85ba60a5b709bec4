package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/inroot"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

func build(t testing.TB, es ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Uid: 7, Gid: 8}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return b.Bytes()
}

// rootWithOutside is a root directory inside a directory holding a
// file "outside" that nothing may touch.
func rootWithOutside(t testing.TB) (string, *inroot.Root) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "outside"), []byte("keep"), 0o644)
	rootDir := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(rootDir, "etc"), 0o755)
	os.Symlink("/", filepath.Join(rootDir, "abs"))
	os.Symlink("../../../..", filepath.Join(rootDir, "up"))
	r, err := inroot.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return dir, r
}

func checkOutside(t testing.TB, dir string) {
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("something was created beside the root: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "outside")); string(b) != "keep" {
		t.Fatalf("outside file changed: %q", b)
	}
}

func TestRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for chown")
	}
	dir, r := rootWithOutside(t)
	data := build(t, entry{name: "d/", typ: tar.TypeDir}, entry{name: "d/f", typ: tar.TypeReg, body: "hello"},
		entry{name: "d/l", link: "/etc/shadow", typ: tar.TypeSymlink}, entry{name: "d/h", link: "d/f", typ: tar.TypeLink})
	if err := Extract(r, "/up/abs/etc", bytes.NewReader(data), Options{CopyUIDGID: true}); err != nil {
		t.Fatal(err)
	}
	checkOutside(t, dir)
	f := filepath.Join(dir, "root", "etc", "d", "f")
	var st unix.Stat_t
	if err := unix.Stat(f, &st); err != nil || st.Uid != 7 || st.Nlink != 2 || st.Mode&0o777 != 0o644 {
		t.Errorf("extracted file: %+v %v", st, err)
	}
	pfd, base, err := r.OpenParent("/etc/d")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pfd)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	if err := NewWriter(tw).Add(pfd, base, "d"); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if got := listTar(&out, true); got != "d/:5 d/f:0 d/h:1 d/l:2" {
		t.Errorf("archived %q", got)
	}
}

func TestExtractRefuses(t *testing.T) {
	dir, r := rootWithOutside(t)
	for name, data := range map[string][]byte{
		"dotdot":       build(t, entry{name: "../outside", typ: tar.TypeReg, body: "x"}),
		"device":       build(t, entry{name: "null", typ: tar.TypeChar}),
		"link out":     build(t, entry{name: "h", link: "../outside", typ: tar.TypeLink}),
		"dir over dir": build(t, entry{name: "etc", typ: tar.TypeReg}),
	} {
		if err := Extract(r, "/", bytes.NewReader(data), Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Through symlinks of the root, writes stay inside it.
	data := build(t, entry{name: "abs/outside", typ: tar.TypeReg, body: "x"}, entry{name: "up/outside2", typ: tar.TypeReg, body: "x"})
	if err := Extract(r, "/", bytes.NewReader(data), Options{}); err != nil {
		t.Fatal(err)
	}
	checkOutside(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "root", "outside2")); err != nil {
		t.Errorf("up/outside2 not in the root: %v", err)
	}
}

// FuzzExtract: no archive writes outside the root.
func FuzzExtract(f *testing.F) {
	f.Add(build(f, entry{name: "d/", typ: tar.TypeDir}, entry{name: "d/f", typ: tar.TypeReg, body: "hello"}))
	f.Add(build(f, entry{name: "../../outside", typ: tar.TypeReg, body: "x"}))
	f.Add(build(f, entry{name: "l", link: "/", typ: tar.TypeSymlink}, entry{name: "l/outside", typ: tar.TypeReg, body: "x"}))
	f.Add(build(f, entry{name: "l", link: "../..", typ: tar.TypeSymlink}, entry{name: "l/x", typ: tar.TypeReg, body: "x"}))
	f.Add(build(f, entry{name: "h", link: "up/outside", typ: tar.TypeLink}))
	f.Add(build(f, entry{name: "f", typ: tar.TypeFifo}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, r := rootWithOutside(t)
		Extract(r, "/", bytes.NewReader(data), Options{CopyUIDGID: true})
		checkOutside(t, dir)
	})
}

func TestWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod and trusted xattrs")
	}
	upper := t.TempDir()
	if err := unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR|0o600, 0); err != nil {
		t.Skip("mknod:", err)
	}
	os.Mkdir(filepath.Join(upper, "opq"), 0o755)
	os.WriteFile(filepath.Join(upper, "opq", "new"), []byte("n"), 0o644)
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skip("trusted xattrs:", err)
	}
	fd, err := unix.Open(upper, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	w := NewWriter(tw)
	w.Whiteouts = true
	if err := w.Add(fd, ".", "."); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if got := listTar(&out, false); got != ".wh.gone opq/ opq/.wh..wh..opq opq/new" {
		t.Errorf("layer archive %q", got)
	}
}

// listTar lists an archive's names (with their types).
func listTar(r io.Reader, types bool) string {
	var names []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return strings.Join(names, " ")
		}
		if types {
			names = append(names, hdr.Name+":"+string(hdr.Typeflag))
		} else {
			names = append(names, hdr.Name)
		}
	}
}
