package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
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

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// DebianMirror is where debootstrap fetches packages from.
const DebianMirror = "http://deb.debian.org/debian"

// DebianCacheDir is where DebianRootfs keeps root file systems:
// $HYPER_CACHE_DIR, default /var/cache/hyper (outside the checkout, kept
// across runs and shared by all checkouts of the machine).
func DebianCacheDir() string {
	if d := os.Getenv("HYPER_CACHE_DIR"); d != "" {
		return d
	}
	return "/var/cache/hyper"
}

// DebianRootfs returns a minimal Debian root file system of suite with
// the packages include, made by `debootstrap --variant=minbase` and cached
// under DebianCacheDir()/debian-<hash>/rootfs, hash of the suite, package
// list and mirror: built once per machine (minutes the first time, then
// at once), under a lock so that concurrent test binaries build it once.
// Without debootstrap the test is skipped, except under CI (CI=true),
// where it fails: hack/install-deps.sh installs it.
func DebianRootfs(t testing.TB, suite string, include ...string) string {
	t.Helper()
	bin, err := exec.LookPath("debootstrap")
	if err != nil {
		for _, p := range []string{"/usr/sbin/debootstrap", "/sbin/debootstrap"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("debootstrap is not installed; hack/install-deps.sh installs it")
		}
		t.Skip("debootstrap is not installed (apt-get install debootstrap, or hack/install-deps.sh): skipping Debian image test")
	}
	pkgs := append([]string(nil), include...)
	sort.Strings(pkgs)
	sum := sha256.Sum256([]byte(strings.Join([]string{"minbase", suite, strings.Join(pkgs, ","), DebianMirror}, "\n")))
	key := "debian-" + suite + "-" + hex.EncodeToString(sum[:])[:12]
	cache := DebianCacheDir()
	dir := filepath.Join(cache, key)
	rootfs := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return rootfs
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return rootfs // another process built it while we waited
	}
	os.RemoveAll(dir) // a build that was interrupted
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	args := []string{"--variant=minbase"}
	if len(pkgs) > 0 {
		args = append(args, "--include="+strings.Join(pkgs, ","))
	}
	args = append(args, suite, filepath.Join(tmp, "rootfs"), DebianMirror)
	t.Logf("building the Debian %s root file system (once per machine, into %s): debootstrap %s", suite, dir, strings.Join(args, " "))
	start := time.Now()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		tail := string(out)
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		t.Fatalf("debootstrap: %v\n%s", err, tail)
	}
	// What a container image does not carry.
	for _, g := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*", "var/log/*.log", "debootstrap"} {
		ms, _ := filepath.Glob(filepath.Join(tmp, "rootfs", g))
		for _, m := range ms {
			os.RemoveAll(m)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "done"), []byte(strings.Join(args, " ")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap took %v", time.Since(start).Round(time.Second))
	return rootfs
}

// WriteDirLayer writes an uncompressed tar layer of everything under dir
// (names relative to it, in lexical order, owners, modes, symlinks, hard
// links and device nodes as they are, mtimes kept) to w. The contents of
// proc/, sys/ and dev/ are left out (the runtime provides them).
func WriteDirLayer(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	seen := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		for _, skip := range []string{"proc/", "sys/", "dev/"} {
			if strings.HasPrefix(rel, skip) {
				return nil
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		st := fi.Sys().(*syscall.Stat_t)
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			k := [2]uint64{st.Dev, st.Ino}
			if first, ok := seen[k]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[k] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// DirImage is an image of one layer holding everything under dir, with
// config cfg. The layer tar is spooled to a temporary file of the test.
func DirImage(t testing.TB, dir string, cfg v1.ConfigFile) v1.Image {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDirLayer(f, dir); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	return img
}
