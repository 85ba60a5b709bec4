package image_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// noCreds points the default keychain at an empty docker config, so that
// the tests never see the user's credentials.
func noCreds(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
}

func push(t *testing.T, ref string, img v1.Image, opts ...remote.Option) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, _ := img.Digest()
	return d.String()
}

func pull(t *testing.T, s *image.Store, ref string, o image.PullOptions) image.Image {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	img, err := s.Pull(c, ref, o)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return img
}

func readRootfs(t *testing.T, s *image.Store, ref, file string) string {
	t.Helper()
	p, err := s.Rootfs(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(it.ExtractErofs(t, p), file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPullTagAndDigest(t *testing.T) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	e := newStore(t, image.Options{})
	bb, applets := it.BusyboxLayer(t)
	push(t, reg+"/busybox:latest", it.Image(t, it.Config(), bb))
	multi := it.Image(t, it.Config(), it.MultiLayer(t)...)
	md := push(t, reg+"/multi:v1", multi)

	var events []image.PullProgress
	img := pull(t, e.s, reg+"/busybox", image.PullOptions{Progress: func(p image.PullProgress) { events = append(events, p) }})
	if len(img.Names) != 1 || img.Names[0] != reg+"/busybox:latest" || img.Architecture != "amd64" {
		t.Fatalf("image %+v", img)
	}
	statuses := map[string]bool{}
	for _, ev := range events {
		statuses[ev.Status] = true
	}
	for _, st := range []string{image.PullResolving, image.PullDownloading, image.PullVerifying, image.PullExtracting, image.PullDone} {
		if !statuses[st] {
			t.Errorf("no %q event in %+v", st, events)
		}
	}
	p, err := e.s.Rootfs(ctx, reg+"/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	x := it.ExtractErofs(t, p)
	if _, err := os.Stat(filepath.Join(x, "bin", applets[0])); err != nil {
		t.Errorf("applet %s: %v", applets[0], err)
	}

	// Again: nothing to download.
	events = nil
	again := pull(t, e.s, reg+"/busybox:latest", image.PullOptions{Progress: func(p image.PullProgress) { events = append(events, p) }})
	if again.ID != img.ID {
		t.Fatalf("second pull %s, first %s", again.ID, img.ID)
	}
	for _, ev := range events {
		if ev.Status == image.PullDownloading {
			t.Errorf("second pull downloaded: %+v", ev)
		}
	}

	// By digest: the image is found by that digest, with no name.
	mimg := pull(t, e.s, reg+"/multi@"+md, image.PullOptions{})
	if mimg.ManifestDigest != md || len(mimg.Names) != 0 {
		t.Fatalf("by digest: %+v", mimg)
	}
	if got, err := e.s.Get(ctx, reg+"/multi@"+md); err != nil || got.ID != mimg.ID {
		t.Fatalf("get by digest: %+v %v", got, err)
	}
	if body := readRootfs(t, e.s, mimg.ID, "usr/bin/tool"); body != "v2" {
		t.Errorf("usr/bin/tool = %q", body)
	}
}

func TestPullIndexAndZstd(t *testing.T) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	e := newStore(t, image.Options{})
	amd := it.Image(t, it.Config(), it.Layer(t, it.File("arch", "amd64", 0o644)))
	armCfg := it.Config()
	armCfg.Architecture = "arm64"
	arm := it.Image(t, armCfg, it.Layer(t, it.File("arch", "arm64", 0o644)))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r, _ := name.ParseReference(reg + "/multiarch:latest")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()

	if runtime.GOARCH == "amd64" {
		got := pull(t, e.s, reg+"/multiarch", image.PullOptions{})
		if got.Architecture != "amd64" || readRootfs(t, e.s, got.ID, "arch") != "amd64" {
			t.Errorf("host platform: %+v", got)
		}
	}
	got := pull(t, e.s, reg+"/multiarch@"+idxDigest.String(), image.PullOptions{Platform: "linux/arm64"})
	armDigest, _ := arm.Digest()
	if got.Architecture != "arm64" || got.ManifestDigest != armDigest.String() || readRootfs(t, e.s, got.ID, "arch") != "arm64" {
		t.Errorf("linux/arm64: %+v", got)
	}
	// The index digest resolves (it is kept as a name).
	if g, err := e.s.Get(ctx, reg+"/multiarch@"+idxDigest.String()); err != nil || g.ID != got.ID {
		t.Errorf("get by index digest: %+v %v", g, err)
	}
	if _, err := e.s.Pull(ctx, reg+"/multiarch", image.PullOptions{Platform: "linux/s390x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing platform: %v", err)
	}
	if _, err := e.s.Pull(ctx, reg+"/multiarch", image.PullOptions{Platform: "linux"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad platform: %v", err)
	}

	// A zstd-compressed layer in an OCI manifest.
	raw := it.Layer(t, it.Dir("etc/", 0o755), it.File("etc/zstd", "compressed with zstd", 0o644))
	zl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	zimg := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	cfg := it.Config()
	zimg, err = mutate.ConfigFile(zimg, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if zimg, err = mutate.AppendLayers(zimg, zl); err != nil {
		t.Fatal(err)
	}
	if mt, _ := zl.MediaType(); mt != types.OCILayerZStd {
		t.Fatalf("layer media type %s", mt)
	}
	push(t, reg+"/zstd:latest", zimg)
	zgot := pull(t, e.s, reg+"/zstd:latest", image.PullOptions{})
	if body := readRootfs(t, e.s, zgot.ID, "etc/zstd"); body != "compressed with zstd" {
		t.Errorf("etc/zstd = %q", body)
	}
}

func TestPullErrorsLeaveNothing(t *testing.T) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	e := newStore(t, image.Options{})
	push(t, reg+"/present:v1", it.Image(t, it.Config(), it.Layer(t, it.File("f", "x", 0o644))))
	before := e.snapshot(t)
	for _, ref := range []string{reg + "/present:nope", reg + "/absent:latest",
		reg + "/present@sha256:" + strings.Repeat("1", 64)} {
		_, err := e.s.Pull(ctx, ref, image.PullOptions{})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: %v, want NotFound", ref, err)
		}
	}
	if _, err := e.s.Pull(ctx, "UPPER/case", image.PullOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad ref: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("store changed:\n%s\n---\n%s", before, after)
	}
}

func TestPullStalledRegistry(t *testing.T) {
	noCreds(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	e := newStore(t, image.Options{})
	before := e.snapshot(t)
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = e.s.Pull(c, l.Addr().String()+"/stall:latest", image.PullOptions{})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("pull from a stalled registry: %v after %v", err, time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the deadline", err)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("store changed:\n%s\n---\n%s", before, after)
	}
}

// fakeRegistry serves one image from memory, with hooks to spoil it.
type fakeRegistry struct {
	mu         sync.Mutex
	manifest   []byte
	mediaType  string
	blobs      map[string][]byte
	blobGets   atomic.Int64
	blobDelay  time.Duration
	corruptDig string
}

// set changes the fake under its lock.
func (f *fakeRegistry) set(fn func(*fakeRegistry)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	manifest, mediaType, corrupt, delay := f.manifest, f.mediaType, f.corruptDig, f.blobDelay
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/v2/":
		w.WriteHeader(http.StatusOK)
	case strings.Contains(r.URL.Path, "/manifests/"):
		w.Header().Set("Content-Type", mediaType)
		w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(manifest)
	case strings.Contains(r.URL.Path, "/blobs/"):
		d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		b, ok := f.blobs[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet {
			f.blobGets.Add(1)
		}
		if d == corrupt {
			b = append([]byte(nil), b...)
			b[len(b)/2] ^= 0xff
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method == http.MethodHead {
			return
		}
		time.Sleep(delay)
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func newFake(t *testing.T, img v1.Image) (*fakeRegistry, string) {
	t.Helper()
	f := &fakeRegistry{blobs: map[string][]byte{}}
	f.manifest, _ = img.RawManifest()
	mt, _ := img.MediaType()
	f.mediaType = string(mt)
	cb, _ := img.RawConfigFile()
	cd, _ := img.ConfigName()
	f.blobs[cd.String()] = cb
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		rc, _ := l.Compressed()
		b, _ := io.ReadAll(rc)
		rc.Close()
		f.blobs[d.String()] = b
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

func TestPullCorruptBlobAndGarbage(t *testing.T) {
	noCreds(t)
	e := newStore(t, image.Options{})
	// Keep one image whose layer the corrupt pull shares: it must stay.
	shared := it.Layer(t, it.File("shared", "s", 0o644))
	img := it.Image(t, it.Config(), shared, it.Layer(t, it.File("second", "2", 0o644)))
	ls, _ := img.Layers()
	kcfg := it.Config()
	kcfg.Config.Labels = map[string]string{"kept": "1"}
	kept, err := mutate.ConfigFile(empty.Image, &kcfg)
	if err != nil {
		t.Fatal(err)
	}
	if kept, err = mutate.AppendLayers(kept, ls[0]); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("kept:1")
	var buf bytes.Buffer
	if err := tarball.Write(tag, kept, &buf); err != nil {
		t.Fatal(err)
	}
	load(t, e.s, buf.Bytes())
	before := e.snapshot(t)

	f, host := newFake(t, img)
	d, _ := ls[1].Digest()
	f.set(func(f *fakeRegistry) { f.corruptDig = d.String() })
	_, err = e.s.Pull(ctx, host+"/bad:latest", image.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), d.String()) {
		t.Fatalf("corrupt blob: %v", err)
	}
	t.Logf("corrupt blob: %v", err)
	if after := e.snapshot(t); after != before {
		t.Errorf("store changed:\n%s\n---\n%s", before, after)
	}

	f.set(func(f *fakeRegistry) {
		f.corruptDig = ""
		f.manifest = []byte(`{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": 17, "la`)
	})
	_, err = e.s.Pull(ctx, host+"/bad:latest", image.PullOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("garbage manifest: %v", err)
	}
	t.Logf("garbage manifest: %v", err)
	f.set(func(f *fakeRegistry) { f.mediaType, f.manifest = "text/html", []byte("<html>hello</html>") })
	_, err = e.s.Pull(ctx, host+"/bad:latest", image.PullOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("html manifest: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("store changed:\n%s\n---\n%s", before, after)
	}
}

func TestPullConcurrentSharesBlobs(t *testing.T) {
	noCreds(t)
	e := newStore(t, image.Options{})
	shared := it.Layer(t, it.File("shared", strings.Repeat("s", 1<<20), 0o644))
	img := it.Image(t, it.Config(), shared)
	f, host := newFake(t, img)
	f.set(func(f *fakeRegistry) { f.blobDelay = 300 * time.Millisecond })
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.s.Pull(ctx, fmt.Sprintf("%s/img%d:latest", host, i), image.PullOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// One GET for the config per pull (it is small and read before the
	// layers), one for the layer in all.
	if n := f.blobGets.Load(); n != int64(len(errs))+1 {
		t.Errorf("%d blob downloads, want %d", n, len(errs)+1)
	}
	imgs, _ := e.s.List(ctx)
	if len(imgs) != 1 || len(imgs[0].Names) != len(errs) {
		t.Errorf("images %+v", imgs)
	}
}

func TestPullCancelRestartsCleanly(t *testing.T) {
	noCreds(t)
	e := newStore(t, image.Options{})
	img := it.Image(t, it.Config(), it.Layer(t, it.File("big", strings.Repeat("b", 1<<20), 0o644)))
	f, host := newFake(t, img)
	f.set(func(f *fakeRegistry) { f.blobDelay = 2 * time.Second })
	before := e.snapshot(t)
	c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := e.s.Pull(c, host+"/x:latest", image.PullOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled pull: %v", err)
	}
	if after := e.snapshot(t); after != before {
		t.Errorf("store changed:\n%s\n---\n%s", before, after)
	}
	f.set(func(f *fakeRegistry) { f.blobDelay = 0 })
	pull(t, e.s, host+"/x:latest", image.PullOptions{})
}

func TestPullAuth(t *testing.T) {
	reg := it.StartRegistry(t, it.RegistryOptions{User: "alice", Password: "s3cret"})
	push(t, reg+"/private:latest", it.Image(t, it.Config(), it.Layer(t, it.File("secret", "yes", 0o644))),
		remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	e := newStore(t, image.Options{})
	noCreds(t)
	_, err := e.s.Pull(ctx, reg+"/private:latest", image.PullOptions{})
	if err == nil || !strings.Contains(err.Error(), "refused access") {
		t.Fatalf("without credentials: %v", err)
	}
	t.Logf("without credentials: %v", err)
	t.Setenv("DOCKER_CONFIG", it.DockerConfig(t, reg, "alice", "wrong"))
	if _, err := e.s.Pull(ctx, reg+"/private:latest", image.PullOptions{}); err == nil || !strings.Contains(err.Error(), "refused access") {
		t.Fatalf("wrong password: %v", err)
	}
	t.Setenv("DOCKER_CONFIG", it.DockerConfig(t, reg, "alice", "s3cret"))
	got := pull(t, e.s, reg+"/private:latest", image.PullOptions{})
	if readRootfs(t, e.s, got.ID, "secret") != "yes" {
		t.Error("wrong content")
	}
}

func TestPullMirror(t *testing.T) {
	noCreds(t)
	reg := it.StartRegistry(t, it.RegistryOptions{})
	e := newStore(t, image.Options{})
	push(t, reg+"/library/mirrored:latest", it.Image(t, it.Config(), it.Layer(t, it.File("m", "from the mirror", 0o644))))
	got := pull(t, e.s, "mirrored", image.PullOptions{Registry: image.Registry{
		Mirrors: map[string][]string{"docker.io": {"http://" + it.FreeAddr(t), "http://" + reg}}}})
	if len(got.Names) != 1 || got.Names[0] != "docker.io/library/mirrored:latest" {
		t.Fatalf("names %v", got.Names)
	}
}
