// Package devimage makes small root filesystem images from Debian's
// busybox-static, for the developer command, tests and benchmarks, until
// the image store (pull/load) provides real ones.
package devimage

import (
	"archive/tar"
	"bytes"
	"io"

	"fmt"
	gcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Passwd and Group are the test image's account files: alice (1000) is in
// staff (50) and wheel (10) besides her own group.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
		"alice:x:1000:1000:Alice:/home/alice:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	Group = "root:x:0:\n" +
		"wheel:x:10:alice\n" +
		"staff:x:50:alice,daemon\n" +
		"alice:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// BusyboxRootfs writes a minimal busybox root filesystem into dir.
func BusyboxRootfs(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static not installed: %w", err)
	}
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/alice", "var", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	os.Chown(filepath.Join(dir, "home/alice"), 1000, 1000)
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		os.Symlink("busybox", filepath.Join(dir, "bin", applet))
	}
	files := map[string]string{"etc/passwd": Passwd, "etc/group": Group, "etc/hostname": "", "etc/hosts": "", "etc/resolv.conf": ""}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ErofsImage packs dir into an EROFS image at out with Debian's mkfs.erofs
// (test setup only; Hyper's own image store converts images in Go).
func ErofsImage(dir, out string) error {
	if _, err := exec.LookPath("mkfs.erofs"); err != nil {
		return fmt.Errorf("mkfs.erofs not installed (apt-get install erofs-utils): %w", err)
	}
	if o, err := exec.Command("mkfs.erofs", "--quiet", "-T0", out, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.erofs: %v: %s", err, o)
	}
	return nil
}

// BusyboxArchive writes a `docker save` archive of a one-layer busybox image
// named name (e.g. "busybox:latest") to w.
func BusyboxArchive(w io.Writer, name string) error {
	dir, err := os.MkdirTemp("", "hyper-busybox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := BusyboxRootfs(dir); err != nil {
		return err
	}
	var layer bytes.Buffer
	if err := tarDir(&layer, dir); err != nil {
		return err
	}
	b := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return err
	}
	img, err = mutate.Config(img, v1.Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if err != nil {
		return err
	}
	ref, err := gcrname.NewTag(name)
	if err != nil {
		return err
	}
	return tarball.Write(ref, img, w)
}

// tarDir writes dir as a layer tar owned by the file owners, without
// following symlinks.
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
