// Package imagetest builds layers, images and archives for the image
// store's tests: real tar layers (including whiteouts, links and devices),
// a busybox layer from the host's static busybox, docker-save archives in
// the classic format and OCI image layout archives.
package imagetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a test layer.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Mode     int64
	UID, GID int
	Body     string
	Link     string
	Major    int64
	Minor    int64
	Xattrs   map[string]string
	// Size, when non-zero, overrides the header size (to make truncated or
	// lying headers); Body is written as is.
	Size    int64
	ModTime time.Time
}

// Epoch is the mtime of test entries.
var Epoch = time.Unix(1700000000, 0)

// File is a regular file.
func File(name, body string, mode int64) Entry {
	return Entry{Name: name, Type: tar.TypeReg, Mode: mode, Body: body}
}

// Dir is a directory.
func Dir(name string, mode int64) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: mode} }

// Symlink is a symbolic link name -> target.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}

// Hardlink is a hard link name -> target (a path in the image).
func Hardlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeLink, Mode: 0o644, Link: target}
}

// Whiteout hides path from lower layers.
func Whiteout(path string) Entry {
	dir, base := filepath.Split(path)
	return File(dir+".wh."+base, "", 0o644)
}

// Opaque hides everything lower layers put in dir.
func Opaque(dir string) Entry { return File(strings.TrimSuffix(dir, "/")+"/.wh..wh..opq", "", 0o644) }

// Layer returns an uncompressed tar of entries.
func Layer(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mt := e.ModTime
		if mt.IsZero() {
			mt = Epoch
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Linkname: e.Link, Devmajor: e.Major, Devminor: e.Minor, ModTime: mt, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if e.Size != 0 {
			hdr.Size = e.Size
		}
		if len(e.Xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.Xattrs {
				hdr.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.Name, err)
		}
		if e.Body != "" {
			if _, err := io.WriteString(tw, e.Body); err != nil && e.Size == 0 {
				t.Fatalf("tar body %s: %v", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatalf("tar close: %v", err)
	}
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Busybox returns the path of the host's static busybox, skipping the
// test when it is absent.
func Busybox(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/busybox", "/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("busybox-static is not installed")
	}
	t.Skip("busybox-static is not installed")
	return ""
}

// BusyboxLayer is a layer with bin/busybox (0755) and one symlink
// bin/APPLET -> busybox per applet, plus etc/passwd and tmp (1777).
func BusyboxLayer(t testing.TB) (layer []byte, applets []string) {
	t.Helper()
	bb := Busybox(t)
	body, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	entries := []Entry{Dir("bin/", 0o755), File("bin/busybox", string(body), 0o755),
		Dir("etc/", 0o755), File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
		Dir("tmp/", 0o1777)}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" {
			continue
		}
		applets = append(applets, a)
		entries = append(entries, Symlink("bin/"+a, "busybox"))
	}
	return Layer(t, entries...), applets
}

// Config is a small image config for tests.
func Config() v1.ConfigFile {
	return v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: Epoch.UTC()},
		Config: v1.Config{
			Entrypoint:   []string{"/bin/sh", "-c"},
			Cmd:          []string{"echo hello"},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"},
			WorkingDir:   "/tmp",
			User:         "1000:1000",
			ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
			StopSignal:   "SIGTERM",
			Labels:       map[string]string{"org.example.role": "test"},
		},
	}
}

// Image builds a go-containerregistry image from uncompressed layer tars
// (go-containerregistry gzips them for its manifest).
func Image(t testing.TB, cfg v1.ConfigFile, layers ...[]byte) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		l := l
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(l)), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// Digest is "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ClassicImage is one image of a classic docker-save archive.
type ClassicImage struct {
	Config   v1.ConfigFile // RootFS is filled in from Layers
	Layers   [][]byte      // stored as given (uncompressed like docker, or compressed)
	DiffIDs  []string      // uncompressed digests; computed from Layers when nil
	RepoTags []string
}

// ClassicArchive writes a docker-save archive in the format of Docker
// before 25: <id>.json configs, <v1id>/layer.tar layers, manifest.json and
// repositories, and returns it with the config digests (image IDs).
func ClassicArchive(t testing.TB, images ...ClassicImage) ([]byte, []string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: Epoch}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	var manifest []tarball.Descriptor
	var ids []string
	written := map[string]bool{}
	for _, im := range images {
		cfg := im.Config
		cfg.RootFS = v1.RootFS{Type: "layers"}
		var paths []string
		for i, l := range im.Layers {
			diff := ""
			if im.DiffIDs != nil {
				diff = im.DiffIDs[i]
			} else {
				diff = Digest(l)
			}
			h, _ := v1.NewHash(diff)
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, h)
			v1id := strings.TrimPrefix(Digest([]byte(fmt.Sprint(i, Digest(l)))), "sha256:")
			p := v1id + "/layer.tar"
			if !written[p] {
				if err := tw.WriteHeader(&tar.Header{Name: v1id + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: Epoch}); err != nil {
					t.Fatal(err)
				}
				add(p, l)
				written[p] = true
			}
			paths = append(paths, p)
		}
		cb, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		id := Digest(cb)
		ids = append(ids, id)
		cp := strings.TrimPrefix(id, "sha256:") + ".json"
		if !written[cp] {
			add(cp, cb)
			written[cp] = true
		}
		manifest = append(manifest, tarball.Descriptor{Config: cp, RepoTags: im.RepoTags, Layers: paths})
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	add("manifest.json", mb)
	add("repositories", []byte("{}"))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ids
}

// TarDir returns a tar of the regular files and directories under dir
// (an OCI image layout written by go-containerregistry's layout package).
func TarDir(t testing.TB, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var paths []string
	if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.IsDir() {
			if err := tw.WriteHeader(&tar.Header{Name: rel + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: Epoch}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(b)), ModTime: Epoch}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Archive is a parsed tar archive: names in order and their contents.
type Archive struct {
	Names []string
	Files map[string][]byte
}

// ReadArchive reads a tar archive (regular files only keep contents).
func ReadArchive(t testing.TB, b []byte) Archive {
	t.Helper()
	a := Archive{Files: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a
		}
		if err != nil {
			t.Fatal(err)
		}
		a.Names = append(a.Names, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			a.Files[hdr.Name] = body
		}
	}
}

// WriteArchive writes files (sorted by name) as a tar archive.
func WriteArchive(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: Epoch}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// NeedTool skips (or, under CI, fails) a test when a command is missing.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (erofs-utils)", name)
		}
		t.Skipf("%s is not installed (erofs-utils)", name)
	}
	return p
}

// ExtractErofs checks the EROFS image with fsck.erofs and extracts it to a
// new directory, which it returns.
func ExtractErofs(t testing.TB, img string) string {
	t.Helper()
	fsck := NeedTool(t, "fsck.erofs")
	dir := filepath.Join(t.TempDir(), "x")
	out, err := exec.Command(fsck, "--extract="+dir, img).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.erofs --extract: %v\n%s", err, out)
	}
	return dir
}

// MultiLayer is a three-layer change set: directories, files with odd
// modes and owners, setuid/setgid, devices, a FIFO, xattrs, then
// whiteouts, an opaque directory, a hard link, symlinks and a directory
// replaced by a file, then a whited-out directory recreated and a file
// rewritten (which breaks its hard link). The merged tree is in the tests.
func MultiLayer(t testing.TB) [][]byte {
	l1 := Layer(t,
		Dir("etc/", 0o755),
		File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644),
		Dir("usr/bin/", 0o755),
		Entry{Name: "usr/bin/tool", Body: "#!/bin/sh\necho tool\n", Mode: 0o750, UID: 1000, GID: 1001},
		Entry{Name: "usr/bin/su", Body: "suid", Mode: 0o4755},
		Entry{Name: "usr/bin/sg", Body: "sgid", Mode: 0o2755, GID: 42},
		Dir("dev/", 0o755),
		Entry{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3},
		Entry{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o660, Major: 8, Minor: 300},
		Entry{Name: "dev/fifo", Type: tar.TypeFifo, Mode: 0o600},
		Entry{Name: "etc/capped", Body: "caps", Mode: 0o755, Xattrs: map[string]string{
			"security.capability":      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
			"user.note":                "hello",
			"trusted.overlay.redirect": "/etc", // dropped: never steer the guest's overlay
		}},
		Dir("opq/", 0o755),
		File("opq/lower1", "1", 0o644),
		Dir("opq/sub/", 0o755),
		File("opq/sub/lower2", "2", 0o644),
		File("gone.txt", "bye", 0o644),
		Dir("var/lib/data/", 0o700),
		File("var/lib/data/a", "a", 0o644),
		File("var/lib/data/b", "b", 0o644),
		Dir("dir2file/", 0o755),
		File("dir2file/child", "c", 0o644),
		Dir("tmp/", 0o1777),
	)
	l2 := Layer(t,
		Whiteout("gone.txt"),
		File("opq/upper", "u", 0o644), // before the marker: same-layer entries survive
		Opaque("opq"),
		Dir("opq/sub/", 0o755),
		File("opq/sub/upper2", "u2", 0o600),
		Hardlink("usr/bin/tool-link", "usr/bin/tool"),
		Symlink("etc/alt", "/usr/bin/tool"),
		Symlink("usr/bin/rel", "../../etc/passwd"),
		File("dir2file", "now a file", 0o600),
		Whiteout("var/lib/data/b"),
		File("etc/passwd", "root:x:0:0::/root:/bin/ash\n", 0o644),
	)
	l3 := Layer(t,
		Whiteout("var/lib/data"),
		Dir("var/lib/data/", 0o755),
		File("var/lib/data/c", "c", 0o644),
		Entry{Name: "usr/bin/tool", Body: "v2", Mode: 0o755}, // breaks the hard link
	)
	return [][]byte{l1, l2, l3}
}

// HugePAXLayer is a layer whose first entry has a PAX extended header of
// 2 MiB (archive/tar refuses more than 1 MiB), made by writing a regular
// entry and retyping it.
func HugePAXLayer(t testing.TB) []byte {
	rec := "SCHILY.xattr.user.big=" + strings.Repeat("v", 2<<20) + "\n"
	rec = fmt.Sprintf("%d %s", len(rec)+8, rec)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "PaxHeaders/x", Mode: 0o644, Size: int64(len(rec)), Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tw, rec)
	tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Format: tar.FormatUSTAR})
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}
