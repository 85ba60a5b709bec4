package image_test

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/image"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
	"github.com/hyperhq/hyper/internal/testenv"
)

// BenchmarkPullConvert compares, interleaved in one run on the same ~100
// MB five-layer image in a real registry (docker-registry on 127.0.0.1):
//
//	hyper:  Store.Pull into a fresh store, which downloads, verifies and
//	        builds the image's EROFS root file system, in a child process
//	skopeo: skopeo copy docker://... oci:DIR + umoci unpack +
//	        mkfs.erofs, Debian's tools, the same job in three steps
//
// and prints p50/p90 wall time and peak RSS (the child's rusage maxrss;
// for the pipeline the largest of its three steps). Run with -benchtime
// 1x; $HYPER_BENCH_RUNS runs each (default 10). Without skopeo, umoci or
// mkfs.erofs it skips, or fails under CI (hack/install-deps.sh installs
// them).
func BenchmarkPullConvert(b *testing.B) {
	tools := map[string]string{}
	for _, t := range []string{"skopeo", "umoci", "mkfs.erofs"} {
		p, err := exec.LookPath(t)
		if err != nil {
			testenv.Unavailable(b, "%s is not installed (hack/install-deps.sh installs skopeo, umoci and erofs-utils)", t)
		}
		tools[t] = p
	}
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg := it.StartRegistry(b, it.RegistryOptions{})
	img, raw := benchImage(b)
	ref := reg + "/bench/pullconvert:v1"
	r, err := name.ParseReference(ref)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		b.Fatal(err)
	}
	m, _ := img.Manifest()
	var compressed int64
	for _, l := range m.Layers {
		compressed += l.Size
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()

	type sample struct {
		wall time.Duration
		rss  int64 // KiB
	}
	var hyper, pipe []sample
	steps := map[string][]time.Duration{}
	var hyperSize, pipeSize int64
	runHyper := func(i int) {
		dir := filepath.Join(work, fmt.Sprintf("hyper%d", i))
		cmd := exec.Command(self, "-test.run=^TestPullConvertChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HYPER_PULLBENCH_REF="+ref, "HYPER_PULLBENCH_DIR="+dir)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		wall := time.Since(start)
		if err != nil {
			b.Fatalf("hyper pull: %v\n%s", err, out)
		}
		hyper = append(hyper, sample{wall, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss})
		hyperSize = dirSize(filepath.Join(dir, "store", "rootfs"))
		os.RemoveAll(dir)
	}
	runPipe := func(i int) {
		dir := filepath.Join(work, fmt.Sprintf("pipe%d", i))
		os.MkdirAll(dir, 0o755)
		var s sample
		for _, step := range [][]string{
			{tools["skopeo"], "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", "docker://" + ref, "oci:" + filepath.Join(dir, "oci") + ":v1"},
			{tools["umoci"], "unpack", "--image", filepath.Join(dir, "oci") + ":v1", filepath.Join(dir, "bundle")},
			{tools["mkfs.erofs"], "--quiet", filepath.Join(dir, "rootfs.erofs"), filepath.Join(dir, "bundle", "rootfs")},
		} {
			cmd := exec.Command(step[0], step[1:]...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v\n%s", strings.Join(step, " "), err, out)
			}
			s.wall += d
			s.rss = max(s.rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			steps[filepath.Base(step[0])] = append(steps[filepath.Base(step[0])], d)
		}
		pipe = append(pipe, s)
		fi, _ := os.Stat(filepath.Join(dir, "rootfs.erofs"))
		pipeSize = fi.Size()
		os.RemoveAll(dir)
	}

	runs := testenv.Runs()
	// One untimed run of each warms the page cache for both.
	runHyper(-1)
	runPipe(-1)
	hyper, pipe, steps = nil, nil, map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		if i%2 == 0 {
			runHyper(i)
			runPipe(i)
		} else {
			runPipe(i)
			runHyper(i)
		}
	}

	walls := func(s []sample) []time.Duration {
		var d []time.Duration
		for _, x := range s {
			d = append(d, x.wall)
		}
		return d
	}
	rss := func(s []sample, p int) int64 {
		var v []int64
		for _, x := range s {
			v = append(v, x.rss)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[(len(v)-1)*p/100]
	}
	fmt.Printf("\npull + convert to EROFS, %d layers, %.1f MiB uncompressed (%.1f MiB gzipped), from docker-registry on 127.0.0.1, %d runs each, interleaved:\n",
		len(m.Layers), mib(raw), mib(compressed), runs)
	fmt.Printf("  %-44s %8s %8s %10s %10s %9s\n", "pipeline", "p50", "p90", "rss p50", "rss max", "erofs")
	row := func(n string, s []sample, size int64) {
		fmt.Printf("  %-44s %6dms %6dms %7.1fMiB %7.1fMiB %6.1fMiB\n", n, testenv.Pct(walls(s), 50).Milliseconds(),
			testenv.Pct(walls(s), 90).Milliseconds(), float64(rss(s, 50))/1024, float64(rss(s, 100))/1024, mib(size))
	}
	row("hyper: Store.Pull (fetch+verify+EROFS)", hyper, hyperSize)
	row("skopeo copy + umoci unpack + mkfs.erofs", pipe, pipeSize)
	for _, st := range []string{"skopeo", "umoci", "mkfs.erofs"} {
		fmt.Printf("    %-42s %6dms %6dms\n", st, testenv.Pct(steps[st], 50).Milliseconds(), testenv.Pct(steps[st], 90).Milliseconds())
	}
	ratio := float64(testenv.Pct(walls(hyper), 50)) / float64(testenv.Pct(walls(pipe), 50))
	verdict := "at least as fast: met"
	if ratio > 1 {
		verdict = "SLOWER than the pipeline: not met"
	}
	fmt.Printf("  hyper p50 / pipeline p50 = %.2fx (%s)\n", ratio, verdict)
	b.ReportMetric(float64(testenv.Pct(walls(hyper), 50).Milliseconds()), "hyper-p50-ms")
	b.ReportMetric(float64(testenv.Pct(walls(pipe), 50).Milliseconds()), "pipeline-p50-ms")
	b.ReportMetric(ratio, "hyper/pipeline")
	b.ReportMetric(float64(rss(hyper, 100)), "hyper-maxrss-KiB")
	b.ReportMetric(float64(rss(pipe, 100)), "pipeline-maxrss-KiB")
}

// TestPullConvertChild is BenchmarkPullConvert's child process: it pulls
// $HYPER_PULLBENCH_REF into a new store under $HYPER_PULLBENCH_DIR.
func TestPullConvertChild(t *testing.T) {
	ref, dir := os.Getenv("HYPER_PULLBENCH_REF"), os.Getenv("HYPER_PULLBENCH_DIR")
	if ref == "" || dir == "" {
		t.Skip("the child process of BenchmarkPullConvert")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := image.Open(filepath.Join(dir, "store"), db, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := s.Pull(c, ref, image.PullOptions{}); err != nil {
		t.Fatal(err)
	}
}

// benchImage builds the benchmark's image from files of the host, in a
// fixed order with fixed times and owners: 1 shared libraries, 2 data
// from /usr/share, 3 Go sources, 4 Go tool binaries, 5 changes over them
// (whiteouts, an opaque directory, rewritten files). It returns the image
// and its uncompressed size.
func benchImage(b *testing.B) (v1.Image, int64) {
	dir := b.TempDir()
	const mb = 1 << 20
	parts := []struct {
		src    string
		prefix string
		limit  int64
	}{
		{"/usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", 30 * mb},
		{"/usr/share", "usr/share", 20 * mb},
		{"/usr/local/go/src", "usr/local/go/src", 30 * mb},
		{"/usr/local/go/pkg/tool", "usr/local/go/pkg/tool", 20 * mb},
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux",
		Config: v1.Config{Cmd: []string{"/bin/sh"}}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	var firstFiles []string
	addLayer := func(p string) {
		fi, _ := os.Stat(p)
		total += fi.Size()
		l, err := tarball.LayerFromFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			b.Fatal(err)
		}
	}
	for i, part := range parts {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar", i+1))
		files := tarTree(b, p, part.src, part.prefix, part.limit)
		if i == 2 {
			firstFiles = files
		}
		addLayer(p)
	}
	// Layer 5: changes over the Go sources.
	p := filepath.Join(dir, "layer5.tar")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	tw := tar.NewWriter(f)
	add := func(h *tar.Header, body string) {
		h.Size, h.ModTime, h.Mode = int64(len(body)), it.Epoch, 0o644
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		tw.WriteHeader(h)
		io.WriteString(tw, body)
	}
	dirs := map[string]bool{}
	for i, fp := range firstFiles {
		switch {
		case i%50 == 0:
			add(&tar.Header{Name: filepath.Join(filepath.Dir(fp), ".wh."+filepath.Base(fp))}, "")
		case i%50 == 25:
			add(&tar.Header{Name: fp}, "// rewritten by layer 5\n")
		case i%500 == 7 && !dirs[filepath.Dir(fp)]:
			dirs[filepath.Dir(fp)] = true
			add(&tar.Header{Name: filepath.Dir(fp) + "/.wh..wh..opq"}, "")
			add(&tar.Header{Name: filepath.Dir(fp) + "/only-file"}, "opaque\n")
		}
	}
	tw.Close()
	f.Close()
	addLayer(p)
	return img, total
}

// tarTree writes a tar of src's tree (sorted, names under prefix) to p,
// stopping after limit bytes of file contents, and returns the regular
// files' names.
func tarTree(b *testing.B, p, src, prefix string, limit int64) []string {
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	var n int64
	var files []string
	written := map[string]bool{}
	// Parent directories of the prefix first.
	parts := strings.Split(prefix, "/")
	for i := range parts {
		d := strings.Join(parts[:i+1], "/") + "/"
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: it.Epoch})
		written[d] = true
	}
	stop := fmt.Errorf("limit")
	err = filepath.WalkDir(src, func(fp string, d fs.DirEntry, err error) error {
		if err != nil || fp == src {
			return nil // unreadable: left out
		}
		if n >= limit {
			return stop
		}
		fi, err := os.Lstat(fp)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(src, fp)
		h := &tar.Header{Name: prefix + "/" + rel, Mode: int64(fi.Mode().Perm()), ModTime: it.Epoch}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			h.Typeflag = tar.TypeSymlink
			h.Linkname, _ = os.Readlink(fp)
		case fi.Mode().IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, fi.Size()
		default:
			return nil
		}
		var body *os.File
		if h.Typeflag == tar.TypeReg {
			if body, err = os.Open(fp); err != nil {
				return nil
			}
			defer body.Close()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return err
			}
			n += h.Size
			files = append(files, h.Name)
		}
		return nil
	})
	if err != nil && err != stop {
		b.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return files
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
