package image_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// users sets the users of images through the store's holds: each user
// set for an image is a holder of that image only.
type users struct {
	s  *image.Store
	mu sync.Mutex
	m  map[string][]string // image ID -> its holders
}

func (u *users) set(id string, us ...image.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string][]string{}
	}
	for _, h := range u.m[id] {
		u.s.Release(h)
	}
	u.m[id] = nil
	for _, x := range us {
		h := id + "/" + x.Name
		u.s.SetHolds(h, x, []string{id})
		u.m[id] = append(u.m[id], h)
	}
}

// threeImages loads a (a:1), b (b:1) and c (no name); a and b share their
// base layer.
func threeImages(t *testing.T, e env) (a, b, c image.Image) {
	t.Helper()
	base := it.Layer(t, it.File("base", "shared", 0o644))
	arc, ids := it.ClassicArchive(t,
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{base, it.Layer(t, it.File("a", "a", 0o644))}, RepoTags: []string{"a:1"}},
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{base, it.Layer(t, it.File("b", "b", 0o644))}, RepoTags: []string{"b:1"}},
		it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("c", "c", 0o644))}})
	load(t, e.s, arc)
	var out []image.Image
	for _, id := range ids {
		img, err := e.s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Rootfs(ctx, id); err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out[0], out[1], out[2]
}

func blobFile(e env, dgst string) string {
	return filepath.Join(e.root, "blobs", "sha256", strings.TrimPrefix(dgst, "sha256:"))
}

func rootfsFile(e env, id string) string {
	return filepath.Join(e.root, "rootfs", strings.TrimPrefix(id, "sha256:")+".erofs")
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func onDisk(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func blobsOf(img image.Image) []string {
	return append([]string{img.ManifestDigest, img.ID}, img.DiffIDs...) // classic archives: layer digest = diff ID
}

// TestGC: GC frees exactly the files no image references; removing an
// image frees its own blobs and root file system and keeps shared ones.
func TestGC(t *testing.T) {
	e := newStore(t, image.Options{})
	a, b, _ := threeImages(t, e)
	if res, err := e.s.GC(ctx); err != nil || len(res.Blobs)+len(res.Rootfs) != 0 || res.Reclaimed != 0 {
		t.Fatalf("GC of a clean store: %+v %v", res, err)
	}
	strayBlob := "sha256:" + strings.Repeat("ab", 32)
	strayID := "sha256:" + strings.Repeat("cd", 32)
	for _, f := range []string{blobFile(e, strayBlob), rootfsFile(e, strayID)} {
		if err := os.WriteFile(f, make([]byte, 10000), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	want := onDisk(t, blobFile(e, strayBlob)) + onDisk(t, rootfsFile(e, strayID))
	res, err := e.s.GC(ctx)
	if err != nil || len(res.Blobs) != 1 || res.Blobs[0] != strayBlob || len(res.Rootfs) != 1 || res.Rootfs[0] != strayID || res.Reclaimed != want {
		t.Fatalf("GC: %+v %v, want the stray files, %d bytes", res, err, want)
	}

	// Removing a frees its manifest, config, own layer and rootfs, not the
	// shared base layer.
	var freed int64
	for _, d := range []string{a.ManifestDigest, a.ID, a.DiffIDs[1]} {
		freed += onDisk(t, blobFile(e, d))
	}
	freed += onDisk(t, rootfsFile(e, a.ID))
	rr, err := e.s.Remove(ctx, "a:1", false)
	if err != nil || rr.Deleted != a.ID || rr.Reclaimed != freed {
		t.Fatalf("remove a: %+v %v (want %d reclaimed)", rr, err, freed)
	}
	for _, d := range []string{a.ManifestDigest, a.ID, a.DiffIDs[1]} {
		if exists(blobFile(e, d)) {
			t.Errorf("blob %s of a removed image still there", d)
		}
	}
	if exists(rootfsFile(e, a.ID)) {
		t.Error("rootfs of a removed image still there")
	}
	for _, d := range blobsOf(b) {
		if !exists(blobFile(e, d)) {
			t.Errorf("blob %s of b (shared or own) was deleted", d)
		}
	}
	if !exists(rootfsFile(e, b.ID)) {
		t.Error("rootfs of b deleted")
	}
}

// TestRemoveUsers: docker's rmi rules with pods as containers.
func TestRemoveUsers(t *testing.T) {
	e := newStore(t, image.Options{})
	u := users{s: e.s}
	a, b, _ := threeImages(t, e)
	u.set(a.ID, image.User{Name: "stopped-pod"})
	u.set(b.ID, image.User{Name: "running-pod", Running: true})

	// Without force, any user refuses, naming the pod.
	for _, ref := range []string{"a:1", a.ID, "b:1", b.ID} {
		_, err := e.s.Remove(ctx, ref, false)
		if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "-pod") {
			t.Errorf("remove %s: %v, want a conflict naming the pod", ref, err)
		}
	}
	// A running user: by ID never, by name only untags.
	if _, err := e.s.Remove(ctx, b.ID, true); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "cannot be forced") {
		t.Errorf("force remove by ID under a running pod: %v", err)
	}
	rr, err := e.s.Remove(ctx, "b:1", true)
	if err != nil || rr.Deleted != "" || len(rr.Untagged) != 1 || rr.Untagged[0] != "docker.io/library/b:1" {
		t.Fatalf("force remove by name under a running pod: %+v %v", rr, err)
	}
	if img, err := e.s.Get(ctx, b.ID); err != nil || len(img.Names) != 0 || !exists(rootfsFile(e, b.ID)) {
		t.Fatalf("b after untag: %+v %v", img, err)
	}
	// Stopped users only: force deletes.
	rr, err = e.s.Remove(ctx, "a:1", true)
	if err != nil || rr.Deleted != a.ID {
		t.Fatalf("force remove under a stopped pod: %+v %v", rr, err)
	}
	u.set(b.ID)
	if rr, err := e.s.Remove(ctx, b.ID, false); err != nil || rr.Deleted != b.ID {
		t.Fatalf("remove once unused: %+v %v", rr, err)
	}
}

// TestPrune: dangling images only, or all unused ones; never used ones.
func TestPrune(t *testing.T) {
	e := newStore(t, image.Options{})
	u := users{s: e.s}
	a, b, c := threeImages(t, e)
	// d: dangling but used.
	arc, ids := it.ClassicArchive(t, it.ClassicImage{Config: it.Config(), Layers: [][]byte{it.Layer(t, it.File("d", "d", 0o644))}})
	load(t, e.s, arc)
	d := ids[0]
	u.set(d, image.User{Name: "p"})
	u.set(b.ID, image.User{Name: "q"})

	before, _ := e.s.DiskUsage(ctx)
	res, err := e.s.Prune(ctx, false)
	if err != nil || len(res.Images) != 1 || res.Images[0].Deleted != c.ID || len(res.Images[0].Untagged) != 0 || res.Reclaimed <= 0 {
		t.Fatalf("prune dangling: %+v %v", res, err)
	}
	after, _ := e.s.DiskUsage(ctx)
	if before.Images.Size-after.Images.Size != res.Reclaimed {
		t.Errorf("prune reclaimed %d, df went from %d to %d", res.Reclaimed, before.Images.Size, after.Images.Size)
	}
	res, err = e.s.Prune(ctx, true)
	if err != nil || len(res.Images) != 1 || res.Images[0].Deleted != a.ID || len(res.Images[0].Untagged) != 1 {
		t.Fatalf("prune all: %+v %v", res, err)
	}
	list, _ := e.s.List(ctx)
	var left []string
	for _, im := range list {
		left = append(left, im.ID)
	}
	sort.Strings(left)
	want := []string{b.ID, d}
	sort.Strings(want)
	if strings.Join(left, ",") != strings.Join(want, ",") {
		t.Errorf("left %v, want %v", left, want)
	}
	if res, err := e.s.Prune(ctx, true); err != nil || len(res.Images) != 0 || res.Reclaimed != 0 {
		t.Errorf("prune again: %+v %v", res, err)
	}
}

// TestDiskUsage: counts, on-disk sums, shared blobs once, reclaimable.
func TestDiskUsage(t *testing.T) {
	e := newStore(t, image.Options{})
	u := users{s: e.s}
	a, b, c := threeImages(t, e)
	u.set(a.ID, image.User{Name: "p", Running: true})
	du, err := e.s.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(files ...string) (n int64) {
		for _, f := range files {
			n += onDisk(t, f)
		}
		return n
	}
	all := map[string]bool{}
	for _, im := range []image.Image{a, b, c} {
		for _, d := range blobsOf(im) {
			all[d] = true
		}
	}
	var blobFiles []string
	for d := range all {
		blobFiles = append(blobFiles, blobFile(e, d))
	}
	rootfs := []string{rootfsFile(e, a.ID), rootfsFile(e, b.ID), rootfsFile(e, c.ID)}
	if len(all) != 10 { // 3 manifests, 3 configs, 4 distinct layers
		t.Fatalf("%d distinct blobs", len(all))
	}
	wantBlobs := image.Usage{Count: 10, Active: 4, Size: sum(blobFiles...)}
	wantBlobs.Reclaimable = wantBlobs.Size - sum(blobFile(e, a.ManifestDigest), blobFile(e, a.ID), blobFile(e, a.DiffIDs[0]), blobFile(e, a.DiffIDs[1]))
	wantRootfs := image.Usage{Count: 3, Active: 1, Size: sum(rootfs...), Reclaimable: sum(rootfs[1:]...)}
	wantImages := image.Usage{Count: 3, Active: 1, Size: wantBlobs.Size + wantRootfs.Size, Reclaimable: wantBlobs.Reclaimable + wantRootfs.Reclaimable}
	if du.Blobs != wantBlobs || du.Rootfs != wantRootfs || du.Images != wantImages {
		t.Fatalf("df %+v\nwant %+v", du, image.DiskUsage{Images: wantImages, Rootfs: wantRootfs, Blobs: wantBlobs})
	}
	// An orphan counts in Blobs (reclaimable), not in Images.
	if err := os.WriteFile(blobFile(e, "sha256:"+strings.Repeat("ab", 32)), make([]byte, 5000), 0o444); err != nil {
		t.Fatal(err)
	}
	du2, _ := e.s.DiskUsage(ctx)
	if du2.Images != du.Images || du2.Blobs.Count != 11 || du2.Blobs.Reclaimable <= du.Blobs.Reclaimable {
		t.Fatalf("with an orphan: %+v", du2)
	}
}

// TestPush: push a loaded and a pulled image to a real registry, pull
// them into an empty store: same manifest digests and IDs.
func TestPush(t *testing.T) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	e := newStore(t, image.Options{})
	arc, id, _ := busyboxArchive(t)
	load(t, e.s, arc)
	if err := e.s.Tag(ctx, "busybox", reg+"/team/busybox:1"); err != nil {
		t.Fatal(err)
	}
	orig, _ := e.s.Get(ctx, id)
	if _, err := e.s.Push(ctx, id, image.PushOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("push by ID: %v", err)
	}
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last image.PushProgress
	res, err := e.s.Push(c, reg+"/team/busybox:1", image.PushOptions{Progress: func(p image.PushProgress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != orig.ManifestDigest || res.Name != reg+"/team/busybox:1" || last.Total == 0 || last.Current != last.Total {
		t.Fatalf("push: %+v (image %s), last progress %+v", res, orig.ManifestDigest, last)
	}
	// A pulled image keeps its registry manifest.
	multi := it.Image(t, it.Config(), it.MultiLayer(t)...)
	md := push(t, reg+"/multi:v1", multi)
	e2 := newStore(t, image.Options{})
	m := pull(t, e2.s, reg+"/multi:v1", image.PullOptions{})
	if err := e2.s.Tag(ctx, m.ID, reg+"/copy/multi:v2"); err != nil {
		t.Fatal(err)
	}
	if res, err := e2.s.Push(c, reg+"/copy/multi:v2", image.PushOptions{}); err != nil || res.Digest != md {
		t.Fatalf("push pulled: %+v %v, want %s", res, err, md)
	}

	fresh := newStore(t, image.Options{})
	for _, tc := range []struct{ ref, id, digest string }{
		{reg + "/team/busybox:1", orig.ID, orig.ManifestDigest},
		{reg + "/copy/multi:v2", m.ID, md},
	} {
		got := pull(t, fresh.s, tc.ref, image.PullOptions{})
		if got.ID != tc.id || got.ManifestDigest != tc.digest {
			t.Errorf("pull %s after push: id %s digest %s, want %s %s", tc.ref, got.ID, got.ManifestDigest, tc.id, tc.digest)
		}
	}
	if readRootfs(t, fresh.s, reg+"/team/busybox:1", "bin/busybox") == "" {
		t.Error("pushed busybox has no /bin/busybox")
	}
}

// strayBlobs writes n blobs no image references and returns their
// digests.
func strayBlobs(t *testing.T, e env, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		d := "sha256:" + strings.Repeat(string("abcdef"[i%6])+"0", 32)
		if err := os.WriteFile(blobFile(e, d), make([]byte, 1000), 0o444); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// TestGCSparesWhatIsUnpinnedMeanwhile: a blob unpinned while GC reads
// which images are registered (its operation may have registered it
// after the read began) is kept by that GC, and goes at the next one.
func TestGCSparesWhatIsUnpinnedMeanwhile(t *testing.T) {
	e := newStore(t, image.Options{})
	d := strayBlobs(t, e, 1)[0]
	image.Pin(e.s, d)
	image.OnCollect(e.s, func() { image.Unpin(e.s, d) }, nil)
	if res, err := e.s.GC(ctx); err != nil || len(res.Blobs) != 0 {
		t.Fatalf("GC: %+v %v, want nothing deleted", res, err)
	}
	if !exists(blobFile(e, d)) {
		t.Fatal("a blob unpinned during the GC was deleted")
	}
	image.OnCollect(e.s, nil, nil)
	if res, err := e.s.GC(ctx); err != nil || len(res.Blobs) != 1 || res.Blobs[0] != d {
		t.Fatalf("next GC: %+v %v, want %s deleted", res, err, d)
	}
}

// TestGCDeletesWithoutThePinsLock: while GC deletes files, other blobs
// are pinned and unpinned without waiting; pinning a blob being deleted
// waits until it is gone.
func TestGCDeletesWithoutThePinsLock(t *testing.T) {
	e := newStore(t, image.Options{})
	ds := strayBlobs(t, e, 2)
	other := "sha256:" + strings.Repeat("9", 64)
	pinned := make(chan struct{})
	image.OnCollect(e.s, nil, func() {
		quick := make(chan struct{})
		go func() {
			image.Pin(e.s, other)
			image.Unpin(e.s, other)
			close(quick)
		}()
		select {
		case <-quick:
		case <-time.After(10 * time.Second):
			t.Fatal("pinning another blob waited for the GC's deletions")
		}
		go func() {
			image.Pin(e.s, ds[0])
			close(pinned)
		}()
		select {
		case <-pinned:
			t.Error("a blob being deleted was pinned before it was gone")
		case <-time.After(50 * time.Millisecond):
		}
	})
	res, err := e.s.GC(ctx)
	if err != nil || len(res.Blobs) != 2 {
		t.Fatalf("GC: %+v %v, want both stray blobs deleted", res, err)
	}
	<-pinned
	if exists(blobFile(e, ds[0])) {
		t.Error("blob still there")
	}
	image.Unpin(e.s, ds[0])
}
