package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// gzipBomb is a gzip-compressed layer holding one file of n zero bytes.
func gzipBomb(t testing.TB, n int64) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: n, ModTime: it.Epoch}); err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(zero)) {
		if _, err := tw.Write(zero[:min(left, int64(len(zero)))]); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// sparseBomb is a PAX (GNU 1.0) sparse file claiming 1 TiB, with one byte
// of data: tiny on the wire, huge once expanded. archive/tar's writer
// drops GNU sparse records, so the PAX header is written as a regular
// entry and retyped.
func sparseBomb(t testing.TB) []byte {
	var recs string
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"},
		{"GNU.sparse.name", "sparse"}, {"GNU.sparse.realsize", fmt.Sprint(int64(1) << 40)}} {
		r := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(r) + 2
		if len(fmt.Sprint(n)) != 2 {
			t.Fatal("record length")
		}
		recs += fmt.Sprint(n) + r
	}
	data := make([]byte, 512+1)
	copy(data, "1\n0\n1\n")
	data[512] = 'x'
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "PaxHeaders/sparse", Mode: 0o644, Size: int64(len(recs)), Format: tar.FormatUSTAR})
	tw.Write([]byte(recs))
	tw.WriteHeader(&tar.Header{Name: "sparse", Mode: 0o644, Size: int64(len(data)), Format: tar.FormatUSTAR})
	tw.Write(data)
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	// Check it reads as intended.
	tr := tar.NewReader(bytes.NewReader(b))
	if h, err := tr.Next(); err != nil || h.Size != 1<<40 {
		t.Fatalf("sparse bomb: %+v %v", h, err)
	}
	return b
}

// ociLayout writes an OCI layout of a two-layer image and returns its
// files, for tests to damage.
func ociLayout(t testing.TB) (files map[string][]byte, layerBlobs []string) {
	img := it.Image(t, it.Config(), it.Layer(t, it.File("a", "a", 0o644)), it.Layer(t, it.File("b", "b", 0o644)))
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "hostile:1"})); err != nil {
		t.Fatal(err)
	}
	a := it.ReadArchive(t, it.TarDir(t, dir))
	m, _ := img.Manifest()
	for _, l := range m.Layers {
		layerBlobs = append(layerBlobs, "blobs/sha256/"+l.Digest.Hex)
	}
	return a.Files, layerBlobs
}

func TestHostileArchives(t *testing.T) {
	base := it.Layer(t, it.File("base", "shared with the good image", 0o644))
	classic := func(layers ...[]byte) []byte {
		arc, _ := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: append([][]byte{base}, layers...), RepoTags: []string{"hostile:1"}})
		return arc
	}
	good, _ := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: [][]byte{base, it.Layer(t, it.File("x", "y", 0o644))}, RepoTags: []string{"good:1"}})

	cases := []struct {
		name    string
		archive func() []byte
		opts    image.Options
	}{
		{"dotdot entry", func() []byte { return classic(it.Layer(t, it.File("../evil", "x", 0o644))) }, image.Options{}},
		{"dotdot deep", func() []byte { return classic(it.Layer(t, it.File("a/../../../evil", "x", 0o644))) }, image.Options{}},
		{"absolute entry", func() []byte { return classic(it.Layer(t, it.File("/evil", "x", 0o644))) }, image.Options{}},
		{"symlink escaping", func() []byte { return classic(it.Layer(t, it.Symlink("etc/shadow", "../../../etc/shadow"))) }, image.Options{}},
		{"hard link escaping", func() []byte { return classic(it.Layer(t, it.Hardlink("passwd", "../../etc/passwd"))) }, image.Options{}},
		{"hard link absolute", func() []byte { return classic(it.Layer(t, it.Hardlink("passwd", "/etc/passwd"))) }, image.Options{}},
		{"write through symlink", func() []byte {
			return classic(it.Layer(t, it.Symlink("lnk", "/")), it.Layer(t, it.File("lnk/evil", "x", 0o644)))
		}, image.Options{}},
		{"huge pax header", func() []byte { return classic(it.HugePAXLayer(t)) }, image.Options{}},
		{"truncated entry", func() []byte { return classic(it.Layer(t, it.Entry{Name: "big", Body: "short", Size: 1 << 20})) }, image.Options{}},
		{"garbage layer", func() []byte { return classic(bytes.Repeat([]byte("garbage!"), 200)) }, image.Options{}},
		{"diff ID mismatch", func() []byte {
			arc, _ := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: [][]byte{base},
				DiffIDs: []string{it.Digest([]byte("something else"))}, RepoTags: []string{"hostile:1"}})
			return arc
		}, image.Options{}},
		{"gzip bomb", func() []byte { return classic(gzipBomb(t, 64<<20)) }, image.Options{MaxImageSize: 8 << 20}},
		{"sparse bomb", func() []byte { return classic(sparseBomb(t)) }, image.Options{MaxImageSize: 8 << 20}},
		{"archive gzip bomb", func() []byte { return it.Gzip(t, make([]byte, 16<<20)) }, image.Options{MaxArchiveSize: 1 << 20}},
		{"config digest mismatch", func() []byte {
			files := it.ReadArchive(t, classic()).Files
			for n, b := range files {
				if strings.HasSuffix(n, ".json") && n != "manifest.json" {
					files[n] = bytes.Replace(b, []byte("echo hello"), []byte("echo HELLO"), 1)
				}
			}
			return it.WriteArchive(t, files)
		}, image.Options{}},
		{"classic layer missing", func() []byte {
			files := it.ReadArchive(t, classic(it.Layer(t, it.File("b", "b", 0o644)))).Files
			var m []map[string]any
			json.Unmarshal(files["manifest.json"], &m)
			m[0]["Layers"] = append(m[0]["Layers"].([]any), "nothere/layer.tar")
			files["manifest.json"], _ = json.Marshal(m)
			return it.WriteArchive(t, files)
		}, image.Options{}},
		{"layout blob digest mismatch", func() []byte {
			files, layers := ociLayout(t)
			b := append([]byte(nil), files[layers[1]]...)
			b[len(b)/2] ^= 0xff
			files[layers[1]] = b
			return it.WriteArchive(t, files)
		}, image.Options{}},
		{"layout blob missing", func() []byte {
			files, layers := ociLayout(t)
			delete(files, layers[1])
			return it.WriteArchive(t, files)
		}, image.Options{}},
		{"layout manifest missing", func() []byte {
			files, _ := ociLayout(t)
			var idx map[string]any
			json.Unmarshal(files["index.json"], &idx)
			d := idx["manifests"].([]any)[0].(map[string]any)
			delete(files, "blobs/sha256/"+strings.TrimPrefix(d["digest"].(string), "sha256:"))
			return it.WriteArchive(t, files)
		}, image.Options{}},
		{"truncated archive", func() []byte { a := classic(); return a[:len(a)/2] }, image.Options{}},
		{"not an archive", func() []byte { return bytes.Repeat([]byte{0x42}, 4096) }, image.Options{}},
		{"empty input", func() []byte { return nil }, image.Options{}},
		{"archive entry escaping", func() []byte {
			files := it.ReadArchive(t, classic()).Files
			files["../manifest.json"] = files["manifest.json"]
			return it.WriteArchive(t, files)
		}, image.Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newStore(t, tc.opts)
			load(t, e.s, good)
			if _, err := e.s.Rootfs(ctx, "good:1"); err != nil {
				t.Fatal(err)
			}
			before := e.snapshot(t)
			arc := tc.archive()
			start := time.Now()
			imgs, err := e.s.Load(ctx, bytes.NewReader(arc))
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("want an invalid-argument error, got %v (%+v)", err, imgs)
			}
			t.Logf("%v (%v)", err, time.Since(start).Round(time.Millisecond))
			if after := e.snapshot(t); after != before {
				t.Fatalf("store changed by a failed load:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if _, err := e.s.Get(ctx, "hostile:1"); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("hostile:1 visible after a failed load: %v", err)
			}
			// The good image is intact: its blobs still save, its root
			// file system is still there.
			if err := e.s.Save(ctx, new(bytes.Buffer), []string{"good:1"}, image.FormatDocker); err != nil {
				t.Errorf("good image damaged: %v", err)
			}
			for _, p := range []string{"/evil", filepath.Join(filepath.Dir(e.root), "evil"), filepath.Join(e.root, "evil")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

// TestLoadAllOrNothing: an archive with a good image and a bad one
// registers neither.
func TestLoadAllOrNothing(t *testing.T) {
	e := newStore(t, image.Options{})
	before := e.snapshot(t)
	arc, _ := it.ClassicArchive(t,
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("ok", "ok", 0o644))}, RepoTags: []string{"ok:1"}},
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("../bad", "bad", 0o644))}, RepoTags: []string{"bad:1"}})
	if _, err := e.s.Load(ctx, bytes.NewReader(arc)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("load: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("store changed:\n%s\n---\n%s", before, after)
	}
	if _, err := e.s.Get(ctx, "ok:1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("ok:1 visible: %v", err)
	}
}

// TestLoadCanceled: a canceled load leaves nothing behind either.
func TestLoadCanceled(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, _, _ := busyboxArchive(t)
	before := e.snapshot(t)
	cctx, cancel := contextWithCancel()
	cancel()
	if _, err := e.s.Load(cctx, bytes.NewReader(arc)); err == nil {
		t.Fatal("load with a canceled context succeeded")
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("store changed:\n%s\n---\n%s", before, after)
	}
}
