package image_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

var ctx = context.Background()

type env struct {
	s    *image.Store
	root string
	db   *bbolt.DB
}

func newStore(t testing.TB, opts image.Options) env {
	t.Helper()
	dir := t.TempDir()
	db, err := bbolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root := filepath.Join(dir, "store")
	s, err := image.Open(root, db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return env{s: s, root: root, db: db}
}

// snapshot lists every file under the store's parent directory (so that
// anything written next to the root shows too) and every metadata key
// and value of the store.
func (e env) snapshot(t testing.TB) string {
	t.Helper()
	var lines []string
	parent := filepath.Dir(e.root)
	err := filepath.Walk(parent, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, p)
		if rel == "meta.db" {
			return nil
		}
		lines = append(lines, fmt.Sprintf("%s %v %d", rel, fi.Mode(), map[bool]int64{true: 0, false: fi.Size()}[fi.IsDir()]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			var walk func(prefix string, b *bbolt.Bucket) error
			walk = func(prefix string, b *bbolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					if v == nil {
						return walk(prefix+"/"+string(k), b.Bucket(k))
					}
					lines = append(lines, fmt.Sprintf("db %s/%s=%s", prefix, k, v))
					return nil
				})
			}
			return walk(string(name), b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func load(t testing.TB, s *image.Store, archive []byte) []image.Image {
	t.Helper()
	imgs, err := s.Load(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return imgs
}

func busyboxArchive(t testing.TB) ([]byte, string, []string) {
	layer, applets := it.BusyboxLayer(t)
	arc, ids := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: [][]byte{layer}, RepoTags: []string{"busybox:latest"}})
	return arc, ids[0], applets
}

func TestBusyboxClassicArchive(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, id, applets := busyboxArchive(t)
	imgs := load(t, e.s, arc)
	if len(imgs) != 1 || imgs[0].ID != id {
		t.Fatalf("loaded %+v, want ID %s", imgs, id)
	}
	img := imgs[0]
	if strings.Join(img.Names, ",") != "docker.io/library/busybox:latest" {
		t.Errorf("names %v", img.Names)
	}
	want := it.Config().Config
	c := img.Config
	if strings.Join(c.Entrypoint, " ") != "/bin/sh -c" || strings.Join(c.Cmd, " ") != "echo hello" ||
		len(c.Env) != 2 || c.WorkingDir != "/tmp" || c.User != "1000:1000" || c.StopSignal != "SIGTERM" ||
		strings.Join(c.ExposedPorts, ",") != "53/udp,80/tcp" || c.Labels["org.example.role"] != "test" {
		t.Errorf("config %+v, want %+v", c, want)
	}
	if img.OS != "linux" || img.Architecture != "amd64" || !img.Created.Equal(it.Epoch) {
		t.Errorf("os/arch/created %s/%s/%v", img.OS, img.Architecture, img.Created)
	}
	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox", "index.docker.io/library/busybox:latest",
		"docker.io/busybox", img.ID, strings.TrimPrefix(img.ID, "sha256:"), img.ShortID(), img.ShortID()[:4],
		"busybox@" + img.ManifestDigest} {
		got, err := e.s.Get(ctx, ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("Get(%q) = %s, %v", ref, got.ID, err)
		}
	}

	p, err := e.s.Rootfs(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Fatalf("rootfs %s: %v %v", p, fi.Mode(), err)
	}
	if p2, err := e.s.Rootfs(ctx, "busybox"); err != nil || p2 != p {
		t.Fatalf("second Rootfs: %s %v", p2, err)
	}
	x := it.ExtractErofs(t, p)
	bb, _ := os.ReadFile(it.Busybox(t))
	got, err := os.ReadFile(filepath.Join(x, "bin/busybox"))
	if err != nil || !bytes.Equal(got, bb) {
		t.Fatalf("bin/busybox differs from the host's (%v)", err)
	}
	if fi, _ := os.Stat(filepath.Join(x, "bin/busybox")); fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/busybox mode %v", fi.Mode())
	}
	if len(applets) < 50 {
		t.Fatalf("only %d applets", len(applets))
	}
	for _, a := range append([]string{"sh", "ls"}, applets...) {
		if l, err := os.Readlink(filepath.Join(x, "bin", a)); err != nil || l != "busybox" {
			t.Fatalf("bin/%s -> %q, %v", a, l, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(x, "tmp")); fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp mode %v", fi.Mode())
	}
}

func TestMultiLayerRootfs(t *testing.T) {
	e := newStore(t, image.Options{})
	layers := it.MultiLayer(t)
	img := it.Image(t, it.Config(), layers...) // go-containerregistry gzips the layers
	tag, _ := name.NewTag("example.com/multi:v1")
	var buf bytes.Buffer
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	imgs := load(t, e.s, buf.Bytes())
	if imgs[0].Names[0] != "example.com/multi:v1" {
		t.Errorf("names %v", imgs[0].Names)
	}
	p, err := e.s.Rootfs(ctx, "example.com/multi:v1")
	if err != nil {
		t.Fatal(err)
	}
	x := it.ExtractErofs(t, p)
	var got []string
	filepath.Walk(x, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(x, p)
		got = append(got, rel)
		return nil
	})
	want := []string{".", "dev", "dev/fifo", "dev/null", "dev/sda", "dir2file", "etc", "etc/alt", "etc/capped", "etc/passwd",
		"opq", "opq/sub", "opq/sub/upper2", "opq/upper", "tmp", "usr", "usr/bin", "usr/bin/rel", "usr/bin/sg", "usr/bin/su",
		"usr/bin/tool", "usr/bin/tool-link", "var", "var/lib", "var/lib/data", "var/lib/data/c"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("merged tree:\n got %v\nwant %v", got, want)
	}
	check := func(p string, mode fs.FileMode, uid, gid uint32) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(x, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != mode || (os.Geteuid() == 0 && (st.Uid != uid || st.Gid != gid)) {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", p, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
		}
	}
	check("usr/bin/tool-link", 0o750, 1000, 1001) // hard link: the linked file's metadata
	check("usr/bin/tool", 0o755, 0, 0)            // rewritten in layer 3
	check("var/lib/data", fs.ModeDir|0o755, 0, 0) // whited out, then recreated
	check("dir2file", 0o600, 0, 0)
	check("etc/alt", fs.ModeSymlink|0o777, 0, 0)
	check("dev/null", fs.ModeDevice|fs.ModeCharDevice|0o666, 0, 0)
	check("dev/fifo", fs.ModeNamedPipe|0o600, 0, 0)
	for p, body := range map[string]string{"usr/bin/tool-link": "#!/bin/sh\necho tool\n", "usr/bin/tool": "v2",
		"etc/passwd": "root:x:0:0::/root:/bin/ash\n", "dir2file": "now a file", "opq/upper": "u"} {
		if b, err := os.ReadFile(filepath.Join(x, p)); err != nil || string(b) != body {
			t.Errorf("%s = %q, %v", p, b, err)
		}
	}
	if l, _ := os.Readlink(filepath.Join(x, "usr/bin/rel")); l != "../../etc/passwd" {
		t.Errorf("usr/bin/rel -> %q", l)
	}
	// setuid/setgid/sticky and xattrs, which fsck.erofs does not restore
	// (it chowns after chmod), are checked on the image itself.
	checkErofsModes(t, p, map[string]fs.FileMode{"usr/bin/su": fs.ModeSetuid | 0o755, "usr/bin/sg": fs.ModeSetgid | 0o755,
		"tmp": fs.ModeDir | fs.ModeSticky | 0o777},
		map[string]map[string]string{"etc/capped": {"user.note": "hello"}})
}

func TestRoundTrip(t *testing.T) {
	layers := it.MultiLayer(t)
	gimg := it.Image(t, it.Config(), layers...)
	gdigest, _ := gimg.Digest()

	classic, _ := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: layers, RepoTags: []string{"rt/classic:1"}})
	var tb bytes.Buffer
	tag, _ := name.NewTag("rt/ggcr:1")
	if err := tarball.Write(tag, gimg, &tb); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(gimg, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "rt/oci:1"})); err != nil {
		t.Fatal(err)
	}
	oci := it.TarDir(t, dir)

	for _, tc := range []struct {
		name, ref string
		archive   []byte
		digest    string // expected manifest digest, when the archive has one
	}{
		{"classic docker-save", "rt/classic:1", classic, ""},
		{"go-containerregistry docker-save", "rt/ggcr:1", tb.Bytes(), ""},
		{"OCI layout", "rt/oci:1", oci, gdigest.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newStore(t, image.Options{})
			first := load(t, e.s, tc.archive)[0]
			if tc.digest != "" && first.ManifestDigest != tc.digest {
				t.Fatalf("manifest digest %s, the archive's is %s", first.ManifestDigest, tc.digest)
			}
			// Loading the same archive again changes nothing.
			before := e.snapshot(t)
			load(t, e.s, tc.archive)
			if after := e.snapshot(t); after != before {
				t.Errorf("second load changed the store:\n%s\n---\n%s", before, after)
			}
			rootfs1, _ := e.s.Rootfs(ctx, first.ID)
			for _, f := range []image.Format{image.FormatDocker, image.FormatOCI} {
				var out bytes.Buffer
				if err := e.s.Save(ctx, &out, []string{tc.ref}, f); err != nil {
					t.Fatal(err)
				}
				e2 := newStore(t, image.Options{})
				again := load(t, e2.s, out.Bytes())
				if len(again) != 1 || again[0].ID != first.ID || again[0].ManifestDigest != first.ManifestDigest {
					t.Fatalf("format %d: reloaded %+v, want ID %s manifest %s", f, again, first.ID, first.ManifestDigest)
				}
				if strings.Join(again[0].Names, ",") != strings.Join(first.Names, ",") {
					t.Errorf("format %d: names %v, want %v", f, again[0].Names, first.Names)
				}
				rootfs2, _ := e2.s.Rootfs(ctx, first.ID)
				b1, _ := os.ReadFile(rootfs1)
				b2, _ := os.ReadFile(rootfs2)
				if !bytes.Equal(b1, b2) {
					t.Errorf("format %d: the root file system differs after the round trip", f)
				}
				if f == image.FormatDocker {
					a := it.ReadArchive(t, out.Bytes())
					if _, ok := a.Files["manifest.json"]; !ok {
						t.Error("docker format without manifest.json")
					}
					if !strings.Contains(string(a.Files["manifest.json"]), `"RepoTags":["`+image.FamiliarName(first.Names[0])+`"]`) {
						t.Errorf("manifest.json %s", a.Files["manifest.json"])
					}
				}
			}
		})
	}
}

func TestRandomImages(t *testing.T) {
	e := newStore(t, image.Options{})
	// go-containerregistry's random images: layers of random files.
	var imgs []v1.Image
	var idx v1.ImageIndex = empty.Index
	for i := 0; i < 3; i++ {
		img, err := random.Image(1024, 2)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: "amd64", OS: "linux",
			RootFS: mustConfig(t, img).RootFS, Config: v1.Config{Cmd: []string{fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Annotations: map[string]string{"org.opencontainers.image.ref.name": fmt.Sprintf("example.com/random:%d", i)}}})
	}
	dir := t.TempDir()
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	got := load(t, e.s, it.TarDir(t, dir))
	if len(got) != 3 {
		t.Fatalf("loaded %d images", len(got))
	}
	for i, img := range imgs {
		d, _ := img.Digest()
		cn, _ := img.ConfigName()
		g, err := e.s.Get(ctx, fmt.Sprintf("example.com/random:%d", i))
		if err != nil || g.ManifestDigest != d.String() || g.ID != cn.String() {
			t.Fatalf("image %d: %+v %v", i, g, err)
		}
		if _, err := e.s.Rootfs(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	list, err := e.s.List(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list %d %v", len(list), err)
	}
}

func mustConfig(t testing.TB, img v1.Image) *v1.ConfigFile {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestMultiPlatformIndex(t *testing.T) {
	e := newStore(t, image.Options{})
	l := it.Layer(t, it.File("arch", "amd64", 0o644))
	amd := it.Image(t, it.Config(), l)
	armCfg := it.Config()
	armCfg.Architecture = "arm64"
	arm := it.Image(t, armCfg, it.Layer(t, it.File("arch", "arm64", 0o644)))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	top := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx, Descriptor: v1.Descriptor{
		Annotations: map[string]string{"io.containerd.image.name": "docker.io/library/multi:latest"}}})
	dir := t.TempDir()
	if _, err := layout.Write(dir, top); err != nil {
		t.Fatal(err)
	}
	got := load(t, e.s, it.TarDir(t, dir))
	want, _ := amd.Digest()
	if len(got) != 1 || got[0].ManifestDigest != want.String() || got[0].Names[0] != "docker.io/library/multi:latest" {
		t.Fatalf("got %+v, want the amd64 manifest %s", got, want)
	}
}

func TestGetErrors(t *testing.T) {
	e := newStore(t, image.Options{})
	// 17 images: two of them share the first hex digit of their IDs.
	var ims []it.ClassicImage
	for i := 0; i < 17; i++ {
		c := it.Config()
		c.Config.Labels = map[string]string{"n": fmt.Sprint(i)}
		ims = append(ims, it.ClassicImage{Config: c, Layers: [][]byte{it.Layer(t, it.File("f", fmt.Sprint(i), 0o644))},
			RepoTags: []string{fmt.Sprintf("img%d:latest", i)}})
	}
	arc, ids := it.ClassicArchive(t, ims...)
	load(t, e.s, arc)
	first := map[byte]int{}
	var shared string
	for _, id := range ids {
		c := strings.TrimPrefix(id, "sha256:")[0]
		if first[c]++; first[c] == 2 {
			shared = string(c)
		}
	}
	for _, tc := range []struct {
		ref  string
		kind error
	}{
		{shared, errdefs.ErrConflict},
		{"nothere", errdefs.ErrNotFound},
		{"sha256:" + strings.Repeat("0", 64), errdefs.ErrNotFound},
		{"", errdefs.ErrInvalidArgument},
		{"UPPER/case", errdefs.ErrInvalidArgument},
		{"sha256:xyz", errdefs.ErrInvalidArgument},
		{"a b", errdefs.ErrInvalidArgument},
		{"busybox@sha256:abc", errdefs.ErrInvalidArgument},
	} {
		if _, err := e.s.Get(ctx, tc.ref); !errors.Is(err, tc.kind) {
			t.Errorf("Get(%q): %v, want %v", tc.ref, err, tc.kind)
		}
	}
}

func TestTagRemove(t *testing.T) {
	e := newStore(t, image.Options{})
	base := it.Layer(t, it.File("base", "shared", 0o644))
	arc, ids := it.ClassicArchive(t,
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{base, it.Layer(t, it.File("a", "a", 0o644))}, RepoTags: []string{"a:1"}},
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{base, it.Layer(t, it.File("b", "b", 0o644))}, RepoTags: []string{"b:1"}})
	load(t, e.s, arc)
	a, b := ids[0], ids[1]
	if err := e.s.Tag(ctx, "a:1", "example.com/a:2"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Tag(ctx, "a:1", "x@sha256:"+strings.Repeat("a", 64)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("tag with digest: %v", err)
	}
	if img, _ := e.s.Get(ctx, "example.com/a:2"); img.ID != a || len(img.Names) != 2 {
		t.Fatalf("after tag: %+v", img)
	}
	// A tag moves between images.
	if err := e.s.Tag(ctx, "b:1", "example.com/a:2"); err != nil {
		t.Fatal(err)
	}
	if img, _ := e.s.Get(ctx, "a:1"); len(img.Names) != 1 {
		t.Fatalf("tag did not move: %v", img.Names)
	}
	// b has two names: removing one untags.
	res, err := e.s.Remove(ctx, "example.com/a:2", false)
	if err != nil || res.Deleted != "" || len(res.Untagged) != 1 {
		t.Fatalf("untag: %+v %v", res, err)
	}
	e.s.Tag(ctx, "b:1", "b:2")
	if _, err := e.s.Remove(ctx, b, false); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove by ID of a multi-name image without force: %v", err)
	}
	e.s.SetHolds("p1", image.User{Name: "p1", Running: true}, []string{b})
	if _, err := e.s.Remove(ctx, b, true); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove an image in use: %v", err)
	}
	e.s.Release("p1")
	rootfsB, _ := e.s.Rootfs(ctx, b)
	res, err = e.s.Remove(ctx, b, true)
	if err != nil || res.Deleted != b || len(res.Untagged) != 2 {
		t.Fatalf("force remove: %+v %v", res, err)
	}
	if _, err := os.Stat(rootfsB); !os.IsNotExist(err) {
		t.Errorf("rootfs of a removed image still there: %v", err)
	}
	// The shared base layer stays for a; a's other blobs are intact.
	if _, err := e.s.Rootfs(ctx, "a:1"); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := e.s.Save(ctx, &out, []string{"a:1"}, image.FormatDocker); err != nil {
		t.Fatalf("save after removing b: %v", err)
	}
	if _, err := e.s.Remove(ctx, "a:1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(ctx, a); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	blobs, _ := os.ReadDir(filepath.Join(e.root, "blobs", "sha256"))
	rootfs, _ := os.ReadDir(filepath.Join(e.root, "rootfs"))
	if len(blobs) != 0 || len(rootfs) != 0 {
		t.Errorf("left behind: %d blobs, %d rootfs", len(blobs), len(rootfs))
	}
}

func TestConcurrentRootfs(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, id, _ := busyboxArchive(t)
	load(t, e.s, arc)
	p, _ := e.s.Rootfs(ctx, id)
	os.Remove(p) // force a rebuild
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			paths[i], errs[i] = e.s.Rootfs(ctx, id)
		}(i)
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != p {
			t.Fatalf("caller %d: %s %v", i, paths[i], errs[i])
		}
	}
	if n := image.BuildCount(e.s); n != 2 { // the load's and one rebuild
		t.Errorf("%d builds, want 2", n)
	}
	tmp, _ := os.ReadDir(filepath.Join(e.root, "tmp"))
	if len(tmp) != 0 {
		t.Errorf("tmp not empty: %v", tmp)
	}
}

// TestOpenCollectsOrphans: files a crash left (a blob and a root file
// system no image references, a temp file) go at Open; registered images
// keep theirs.
func TestOpenCollectsOrphans(t *testing.T) {
	e := newStore(t, image.Options{})
	arc, id, _ := busyboxArchive(t)
	load(t, e.s, arc)
	p, _ := e.s.Rootfs(ctx, id)
	before := e.snapshot(t)
	stray := []string{
		filepath.Join(e.root, "blobs", "sha256", strings.Repeat("ab", 32)),
		filepath.Join(e.root, "rootfs", strings.Repeat("cd", 32)+".erofs"),
		filepath.Join(e.root, "tmp", "load-123.tar"),
	}
	for _, f := range stray {
		if err := os.WriteFile(f, []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := image.Open(e.root, e.db, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if after := e.snapshot(t); after != before {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", after, before)
	}
	if p2, err := s2.Rootfs(ctx, "busybox"); err != nil || p2 != p {
		t.Fatalf("rootfs after reopen: %s %v", p2, err)
	}
}
