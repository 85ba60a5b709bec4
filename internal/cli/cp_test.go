package cli

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestParseCpArg(t *testing.T) {
	for in, want := range map[string]cpTarget{
		"web:/etc/hostname":  {pod: "web", path: "/etc/hostname"},
		"web/side:/tmp":      {pod: "web", container: "side", path: "/tmp"},
		"./a:b":              {path: "./a:b"},
		"/abs/x:y":           {path: "/abs/x:y"},
		"plain":              {path: "plain"},
		"web:relative/path/": {pod: "web", path: "relative/path/"},
	} {
		if got := parseCpArg(in); got != want {
			t.Errorf("%q: %+v, want %+v", in, got, want)
		}
	}
	for _, c := range [][3]string{{"src/x", "src", "dst/x"}, {"src", "src", "dst"}, {"srcx", "src", "srcx"}, {"a", "", "a"}} {
		if got := rebase(c[0], c[1], "dst"); got != c[2] {
			t.Errorf("rebase(%q, %q): %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func tarOf(t testing.TB, hdrs ...*tar.Header) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hdrs {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	tw.Close()
	return b.Bytes()
}

// FuzzExtractTar: an archive from hyperd (from the untrusted guest)
// never writes outside the destination.
func FuzzExtractTar(f *testing.F) {
	f.Add(tarOf(f, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644}))
	f.Add(tarOf(f, &tar.Header{Name: "../outside", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(tarOf(f, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: ".."}, &tar.Header{Name: "l/outside", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(tarOf(f, &tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"}, &tar.Header{Name: "l/tmp/x", Typeflag: tar.TypeReg, Size: 1}))
	f.Add(tarOf(f, &tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "../outside"}))
	f.Add(tarOf(f, &tar.Header{Name: "top", Typeflag: tar.TypeDir}, &tar.Header{Name: "top/x", Typeflag: tar.TypeReg, Size: 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "outside"), []byte("keep"), 0o644)
		os.Mkdir(filepath.Join(dir, "dest"), 0o755)
		root, err := os.OpenRoot(filepath.Join(dir, "dest"))
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		extractTar(root, bytes.NewReader(data), extractOptions{renameFrom: "top", renameTo: "renamed"})
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("written beside the destination: %v", ents)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "outside")); string(b) != "keep" {
			t.Fatalf("outside changed: %q", b)
		}
	})
}
