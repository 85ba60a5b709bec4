package tarcheck

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
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
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestCopy(t *testing.T) {
	good := build(t, entry{name: "./d/", typ: tar.TypeDir}, entry{name: "/d/f", typ: tar.TypeReg, body: "x"},
		entry{name: "d/l", link: "/etc/shadow", typ: tar.TypeSymlink}, entry{name: "d/h", link: "d/f", typ: tar.TypeLink})
	var out bytes.Buffer
	if err := Copy(&out, bytes.NewReader(append(good, "trailing"...))); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name+">"+hdr.Linkname)
	}
	if got := strings.Join(names, " "); got != "d/> d/f> d/l>/etc/shadow d/h>d/f" {
		t.Errorf("entries %q", got)
	}
	for name, bad := range map[string][]byte{
		"dotdot":        build(t, entry{name: "../x", typ: tar.TypeReg}),
		"dotdot inside": build(t, entry{name: "a/../../x", typ: tar.TypeReg}),
		"link out":      build(t, entry{name: "h", link: "../../etc/shadow", typ: tar.TypeLink}),
		"link to dest":  build(t, entry{name: "h", link: ".", typ: tar.TypeLink}),
		"long name":     build(t, entry{name: strings.Repeat("a/", 3000) + "x", typ: tar.TypeReg}),
		"nul":           []byte("x\x00y"),
		"truncated":     good[:700],
	} {
		if err := Copy(io.Discard, bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzCopy: whatever the input, Copy never panics, and what it writes
// is an archive every entry of which passes Check.
func FuzzCopy(f *testing.F) {
	f.Add(build(f, entry{name: "d/", typ: tar.TypeDir}, entry{name: "d/f", typ: tar.TypeReg, body: "hello"}))
	f.Add(build(f, entry{name: "../../etc/passwd", typ: tar.TypeReg, body: "root"}))
	f.Add(build(f, entry{name: "l", link: "/", typ: tar.TypeSymlink}, entry{name: "l/x", typ: tar.TypeReg}))
	f.Add(build(f, entry{name: "h", link: "../x", typ: tar.TypeLink}))
	f.Add(build(f, entry{name: "dev", typ: tar.TypeChar}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		if err := Copy(&out, bytes.NewReader(data)); err != nil {
			return
		}
		tr := tar.NewReader(&out)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("Copy wrote a bad archive: %v", err)
			}
			if _, err := Check(hdr); err != nil {
				t.Fatalf("Copy wrote an entry Check refuses: %v", err)
			}
			if strings.HasPrefix(hdr.Name, "/") || strings.Contains("/"+hdr.Name+"/", "/../") {
				t.Fatalf("entry %q", hdr.Name)
			}
		}
	})
}
