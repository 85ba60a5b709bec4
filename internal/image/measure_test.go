package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	erofs "github.com/erofs/go-erofs"

	"github.com/hyperhq/hyper/internal/bootimage"
	"github.com/hyperhq/hyper/internal/hypervisor"
	"github.com/hyperhq/hyper/internal/hypervisor/qemu"
	"github.com/hyperhq/hyper/internal/image/fstree"
	"github.com/hyperhq/hyper/internal/testenv"
)

// TestMeasureRootfsLayouts produces the numbers of ADR 0005: one merged
// EROFS per image versus one EROFS per layer stacked as overlay lowers in
// the guest, on the same four-layer image made from the host's Go
// toolchain (HYPER_MEASURE_SRC, default /usr/local/go). With a guest
// kernel and QEMU it also boots VMs that mount either layout and stack
// it under an overlay, and reports boot times. Opt-in: HYPER_IMAGE_MEASURE=1.
func TestMeasureRootfsLayouts(t *testing.T) {
	if os.Getenv("HYPER_IMAGE_MEASURE") == "" {
		t.Skip("set HYPER_IMAGE_MEASURE=1 to measure")
	}
	src := os.Getenv("HYPER_MEASURE_SRC")
	if src == "" {
		src = "/usr/local/go"
	}
	dir := t.TempDir()
	layers := measureLayers(t, src, dir)
	var raw int64
	for _, l := range layers {
		fi, _ := os.Stat(l)
		raw += fi.Size()
	}
	fmt.Printf("\nimage: %d layers from %s, %.1f MiB of uncompressed layer tars\n", len(layers), src, mib(raw))

	const runs = 3
	// One merged EROFS, as the store builds it.
	var merged string
	var mergedTimes []time.Duration
	for r := 0; r < runs; r++ {
		merged = filepath.Join(dir, "merged.erofs")
		start := time.Now()
		spool, _ := os.CreateTemp(dir, "spool")
		tree := fstree.New(spool, fstree.Limits{})
		for _, l := range layers {
			f, _ := os.Open(l)
			if err := tree.Apply(f); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		out, _ := os.Create(merged)
		if err := tree.WriteErofs(out, dir); err != nil {
			t.Fatal(err)
		}
		out.Sync()
		out.Close()
		mergedTimes = append(mergedTimes, time.Since(start))
		spool.Close()
		os.Remove(spool.Name())
	}
	mfi, _ := os.Stat(merged)

	// One EROFS per layer, whiteouts in overlayfs form.
	var per []string
	var perTimes []time.Duration
	var perSize int64
	var perEach []string
	for r := 0; r < runs; r++ {
		per = per[:0]
		perSize = 0
		perEach = perEach[:0]
		start := time.Now()
		for i, l := range layers {
			p := filepath.Join(dir, fmt.Sprintf("layer%d.erofs", i+1))
			layerErofs(t, src, l, p, dir)
			fi, _ := os.Stat(p)
			perSize += fi.Size()
			perEach = append(perEach, fmt.Sprintf("%.1f", mib(fi.Size())))
			per = append(per, p)
		}
		perTimes = append(perTimes, time.Since(start))
	}
	fmt.Printf("  %-34s build %6s   size %7.1f MiB\n", "merged (1 EROFS)", median(mergedTimes).Round(time.Millisecond), mib(mfi.Size()))
	fmt.Printf("  %-34s build %6s   size %7.1f MiB (%s)\n", fmt.Sprintf("per layer (%d EROFS)", len(per)), median(perTimes).Round(time.Millisecond), mib(perSize), strings.Join(perEach, " + "))

	measureBoot(t, dir, merged, per)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// measureLayers writes four uncompressed layer tars made from src:
// 1 src/, 2 pkg/ and bin/, 3 the rest, 4 changes: a whited-out big
// directory, an opaque directory with new contents, rewritten files and a
// hard link.
func measureLayers(t *testing.T, src, dir string) []string {
	root := filepath.Base(src)
	var parts [3][]string
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		switch {
		case rel == root:
		case strings.HasPrefix(rel, root+"/src"):
			parts[0] = append(parts[0], p)
		case strings.HasPrefix(rel, root+"/pkg"), strings.HasPrefix(rel, root+"/bin"):
			parts[1] = append(parts[1], p)
		default:
			parts[2] = append(parts[2], p)
		}
		return nil
	})
	var out []string
	for i, ps := range parts {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar", i+1))
		f, _ := os.Create(p)
		tw := tar.NewWriter(f)
		for _, fp := range ps {
			fi, err := os.Lstat(fp)
			if err != nil {
				t.Fatal(err)
			}
			link := ""
			if fi.Mode()&fs.ModeSymlink != 0 {
				link, _ = os.Readlink(fp)
			}
			hdr, err := tar.FileInfoHeader(fi, link)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(filepath.Dir(src), fp)
			hdr.Name = rel
			if fi.IsDir() {
				hdr.Name += "/"
			}
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatal(err)
			}
			if fi.Mode().IsRegular() {
				r, _ := os.Open(fp)
				io.Copy(tw, r)
				r.Close()
			}
		}
		tw.Close()
		f.Close()
		out = append(out, p)
	}
	// Layer 4: changes.
	p := filepath.Join(dir, "layer4.tar")
	f, _ := os.Create(p)
	tw := tar.NewWriter(f)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		h.ModTime = time.Unix(1700000000, 0)
		tw.WriteHeader(h)
		tw.Write(body)
	}
	add(&tar.Header{Name: root + "/src/cmd/.wh.compile", Mode: 0o644}, nil)
	add(&tar.Header{Name: root + "/src/.wh.net", Mode: 0o644}, nil)
	add(&tar.Header{Name: root + "/test/.wh..wh..opq", Mode: 0o644}, nil)
	add(&tar.Header{Name: root + "/test/README", Mode: 0o644}, []byte("replaced\n"))
	fmtFiles, _ := filepath.Glob(filepath.Join(src, "src/fmt/*.go"))
	for _, fp := range fmtFiles {
		b, _ := os.ReadFile(fp)
		add(&tar.Header{Name: root + "/src/fmt/" + filepath.Base(fp), Mode: 0o644}, append(b, "// patched\n"...))
	}
	add(&tar.Header{Name: root + "/bin/go-link", Typeflag: tar.TypeLink, Linkname: root + "/bin/go", Mode: 0o755}, nil)
	tw.Close()
	f.Close()
	return append(out, p)
}

// layerErofs converts one layer tar to an EROFS for use as an overlayfs
// lower: whiteouts become 0:0 character devices, opaque markers the
// trusted.overlay.opaque xattr on their directory.
func layerErofs(t *testing.T, src, layer, out, tmp string) {
	f, err := os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := erofs.Create(o, erofs.WithBuildTime(0, 0), erofs.WithTempDir(tmp))
	tr := tar.NewReader(f)
	exists := func(p string) bool { _, err := w.Stat(p); return err == nil }
	meta := func(p string, h *tar.Header) {
		w.Chown(p, h.Uid, h.Gid)
		w.Chtimes(p, h.ModTime, h.ModTime)
		if h.Typeflag != tar.TypeSymlink {
			w.Chmod(p, h.FileInfo().Mode())
		}
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := "/" + strings.Trim(path.Clean(h.Name), "/")
		dir, base := path.Split(p)
		switch {
		case base == ".wh..wh..opq":
			d := strings.TrimSuffix(dir, "/")
			if !exists(d) {
				w.Mkdir(d, 0o755)
			}
			w.Setxattr(d, "trusted.overlay.opaque", "y")
		case strings.HasPrefix(base, ".wh."):
			w.Mknod(dir+base[4:], 0o020000, 0)
		case h.Typeflag == tar.TypeDir:
			if !exists(p) {
				w.Mkdir(p, 0o755)
			}
			meta(p, h)
		case h.Typeflag == tar.TypeSymlink:
			w.Symlink(h.Linkname, p)
			meta(p, h)
		case h.Typeflag == tar.TypeLink:
			// go-erofs has no hard links: copy, from this layer or, in a
			// real store, from a lower one (here: the host file).
			target := "/" + path.Clean(h.Linkname)
			var body []byte
			if r, err := w.Open(target); err == nil {
				body, _ = io.ReadAll(r)
				r.Close()
			} else {
				body, _ = os.ReadFile(filepath.Join(filepath.Dir(src), h.Linkname))
			}
			nf, _ := w.Create(p)
			nf.Write(body)
			nf.Close()
			meta(p, h)
		case h.Typeflag == tar.TypeReg:
			nf, err := w.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(nf, tr)
			nf.Close()
			meta(p, h)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// measureBoot boots VMs whose init mounts the image's EROFS disks, stacks
// them under an overlay with a tmpfs upper, walks the merged tree, and
// powers off; QEMU start to exit is timed, and the guest reports its own
// mount time and the number of entries it sees.
func measureBoot(t *testing.T, dir, merged string, per []string) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		fmt.Println("  (boot: no busybox, skipped)")
		return
	}
	kernel, err := testenv.KernelPath()
	if err == nil {
		_, err = os.Stat(kernel)
	}
	if _, lerr := exec.LookPath("qemu-system-x86_64"); err != nil || lerr != nil {
		fmt.Printf("  (boot: no kernel or QEMU, skipped: %v %v)\n", err, lerr)
		return
	}
	accel, err := hypervisor.ChooseAccel(hypervisor.AccelRequest{Mode: os.Getenv("HYPER_ACCEL")}, hypervisor.ProbeHost())
	if err != nil {
		t.Fatal(err)
	}
	script := `B=/bin/busybox
$B mount -t devtmpfs none /dev; $B mount -t proc none /proc; $B mount -t sysfs none /sys
T0=$($B cut -d' ' -f1 /proc/uptime)
L=""
for s in $($B ls /sys/block); do
  n=$($B cat /sys/block/$s/serial 2>/dev/null)
  case "$n" in l*) $B mkdir -p /mnt/$n; $B mount -t erofs -o ro /dev/$s /mnt/$n || echo MOUNTFAIL $s;; esac
done
for n in $($B ls /mnt | $B sort -r); do L="$L:/mnt/$n"; done
$B mount -t tmpfs none /tmp; $B mkdir /tmp/u /tmp/w /tmp/m
$B mount -t overlay overlay -o lowerdir=${L#:},upperdir=/tmp/u,workdir=/tmp/w /tmp/m || echo OVLFAIL
T1=$($B cut -d' ' -f1 /proc/uptime)
C=$($B find /tmp/m | $B wc -l)
T2=$($B cut -d' ' -f1 /proc/uptime)
echo "MEASURE mount=$T0..$T1 walk=$T2 entries=$C lowers=$L"
$B reboot -f
`
	rd := filepath.Join(dir, "measure-initrd.img")
	if err := bootimage.WriteBusyboxScript(rd, bb, script); err != nil {
		t.Fatal(err)
	}
	drv := qemu.New(qemu.Options{})
	boot := func(i int, disks []string) (time.Duration, string) {
		sd := filepath.Join(dir, fmt.Sprintf("vm%d", i))
		os.MkdirAll(sd, 0o700)
		var hd []hypervisor.Disk
		for j, d := range disks {
			hd = append(hd, hypervisor.Disk{Path: d, Serial: fmt.Sprintf("l%02d", j), ReadOnly: true})
		}
		console := filepath.Join(sd, "console.log")
		v, err := drv.Create(context.Background(), hypervisor.Spec{ID: fmt.Sprintf("measure%d", i), StateDir: sd, VCPUs: 1, MemoryMB: 512,
			Kernel: hypervisor.Kernel{Path: kernel, Initrd: rd}, Accel: accel, Disks: hd, ConsoleLog: console})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := v.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if info, err := v.Wait(ctx); err != nil || info.ExitCode != 0 {
			v.Kill()
			b, _ := os.ReadFile(console)
			t.Fatalf("vm: %+v %v\n%s", info, err, b)
		}
		el := time.Since(start)
		b, _ := os.ReadFile(console)
		m := regexp.MustCompile(`MEASURE .*`).Find(b)
		if m == nil || bytes.Contains(b, []byte("FAIL")) {
			t.Fatalf("guest did not report:\n%s", b)
		}
		return el, string(m)
	}
	// QEMU's microvm has 8 virtio-mmio transports and the driver uses one
	// for virtio-rng: 7 disks is the most a VM can have (fewer once a pod
	// has its channel, network and scratch disk). The 7-disk case repeats
	// layers to show the slope.
	var seven []string
	for len(seven) < 7 {
		seven = append(seven, per...)
	}
	seven = seven[:7]
	configs := []struct {
		name  string
		disks []string
	}{{"1 disk (merged)", []string{merged}}, {fmt.Sprintf("%d disks (per layer)", len(per)), per}, {"7 disks (per layer, repeated)", seven}}
	const runs = 5
	times := make([][]time.Duration, len(configs))
	reports := make([]string, len(configs))
	n := 0
	for r := 0; r < runs; r++ {
		for i, c := range configs {
			el, rep := boot(n, c.disks)
			n++
			times[i] = append(times[i], el)
			reports[i] = rep
		}
	}
	fmt.Printf("  boot under %s, %d runs each (QEMU start -> exit; the init mounts every disk, overlays them, walks the tree):\n", accel.Kind, runs)
	for i, c := range configs {
		fmt.Printf("  %-34s p50 %6s   min %6s   guest: %s\n", c.name, median(times[i]).Round(time.Millisecond), minDur(times[i]).Round(time.Millisecond), reports[i])
	}
}

func minDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		if x < m {
			m = x
		}
	}
	return m
}
