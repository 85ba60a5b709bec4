package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gcrname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/devimage"
)

// busyboxImage is the test busybox image (devimage), in memory.
func busyboxImage(t testing.TB) v1.Image {
	t.Helper()
	var base bytes.Buffer
	if err := devimage.BusyboxArchive(&base, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(base.Bytes())), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// loadImage saves img as ref ("name:tag") and loads it into hyperd.
func (h *hyperd) loadImage(ref string, img v1.Image) {
	h.t.Helper()
	tag, err := gcrname.NewTag(ref)
	if err != nil {
		h.t.Fatal(err)
	}
	f := filepath.Join(h.t.TempDir(), "img.tar")
	w, err := os.Create(f)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		h.t.Fatal(err)
	}
	w.Close()
	h.ok("load", "-i", f)
}

// layerFile is one entry of a stand-in image's extra layer: a directory
// (name ends in /), a symlink (link set) or a regular file (body).
type layerFile struct {
	name, body, link string
	mode             int64
}

// loadStandIn loads busybox with one more layer of files as image ref,
// with cmd as its command.
func (h *hyperd) loadStandIn(ref string, cmd []string, files ...layerFile) {
	h.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		switch {
		case strings.HasSuffix(f.name, "/"):
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		case f.link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			h.t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		h.t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		h.t.Fatal(err)
	}
	img, err := mutate.AppendLayers(busyboxImage(h.t), layer)
	if err != nil {
		h.t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Cmd: cmd, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.loadImage(ref, img)
}

// loadExampleImages loads the images the hyperd examples name: busybox,
// and stand-ins for ubuntu:latest and tomcat:latest (no registry here),
// busybox with what the examples use of the real ones:
//
//   - ubuntu:latest: /bin/bash is a script that execs busybox sh (the
//     examples only start it); /usr/bin/id and /usr/bin/top are busybox's;
//     /usr/bin/vmstat is a script printing /proc/meminfo DELAY COUNT
//     times (procps' vmstat is not in busybox); /etc/passwd and /etc/group
//     have Ubuntu's ids for the names the examples use (nobody 65534,
//     mail 8, proxy 13, cdrom 24). Command /bin/bash, as Ubuntu's.
//   - tomcat:latest: busybox httpd serving a page ("stand-in tomcat") on
//     Tomcat's port, 8080, as its command.
func (h *hyperd) loadExampleImages() {
	h.t.Helper()
	h.loadBusybox()
	h.loadStandIn("ubuntu:latest", []string{"/bin/bash"},
		layerFile{name: "etc/passwd", mode: 0o644, body: "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
		layerFile{name: "etc/group", mode: 0o644, body: "root:x:0:\nmail:x:8:\nproxy:x:13:\ncdrom:x:24:\nnogroup:x:65534:\n"},
		layerFile{name: "bin/bash", mode: 0o755, body: "#!/bin/sh\nexec /bin/sh \"$@\"\n"},
		layerFile{name: "usr/", mode: 0o755},
		layerFile{name: "usr/bin/", mode: 0o755},
		layerFile{name: "usr/bin/id", link: "/bin/busybox", mode: 0o777},
		layerFile{name: "usr/bin/top", link: "/bin/busybox", mode: 0o777},
		layerFile{name: "usr/bin/vmstat", mode: 0o755, body: "#!/bin/sh\nfor i in $(seq \"$2\"); do head -2 /proc/meminfo; sleep \"$1\"; done\n"})
	h.loadStandIn("tomcat:latest", []string{"httpd", "-f", "-p", "8080", "-h", "/usr/local/tomcat/webapps"},
		layerFile{name: "usr/", mode: 0o755},
		layerFile{name: "usr/local/", mode: 0o755},
		layerFile{name: "usr/local/tomcat/", mode: 0o755},
		layerFile{name: "usr/local/tomcat/webapps/", mode: 0o755},
		layerFile{name: "usr/local/tomcat/webapps/index.html", mode: 0o644, body: "stand-in tomcat\n"})
}

// TestHyperdExamples runs each of the original hyperd examples
// (docs/pod-files.md, "The original hyperd examples") unchanged, with the
// stand-in images of loadExampleImages, in a VM, and checks what the
// table says of it; or checks that it is refused with the table's reason
// before any VM, leaving no pod. hyperd runs in a network namespace of its
// own: port-mapping.pod publishes host ports 3000-3010.
func TestHyperdExamples(t *testing.T) {
	ns := newNetns(t)
	h := newHyperdIn(t, "", ns)
	h.loadExampleImages()

	refused := map[string][]string{ // file -> the reasons on hyperctl's stderr
		"insert-file.pod": {
			"files[1].uri: http://7xj84t.com1.z0.glb.clouddn.com/test/logo.png: http URIs are not fetched",
			"files[4].content: bad base64 payload",
		},
		"kubernetes_tomcat.pod":         {`apiVersion: "V1beta1" is not supported: only apiVersion v1`},
		"kubernetes_ubuntu_restart.pod": {`apiVersion: "V1beta1" is not supported: only apiVersion v1`},
		"nfs-volume.pod":                {"volumes[0].format: not supported: NFS volumes"},
		"port-mapping-in-sandbox.pod":   {"portmappingWhiteLists: not supported"},
	}
	// file -> the pod's name and what to check while (or after) it runs.
	type run struct {
		pod   string
		check func(t *testing.T, h *hyperd, pod string)
	}
	// exec runs a command in a container of a pod and returns its output.
	exec := func(h *hyperd, pod, ctr string, args ...string) string {
		h.t.Helper()
		return h.ok(append([]string{"exec", "-c", ctr, pod}, args...)...)
	}
	// running waits until the pod and all its containers run.
	running := func(t *testing.T, h *hyperd, pod string) types.Pod {
		t.Helper()
		var p types.Pod
		waitFor(t, 2*time.Minute, pod+" and its containers to run", func() bool {
			var err error
			p, err = h.client.GetPod(h.ctx(), pod)
			return err == nil && p.State == types.StateRunning &&
				!slices.ContainsFunc(p.Containers, func(c types.Container) bool { return c.State != types.StateRunning })
		})
		return p
	}
	runs := map[string]run{
		"file-mapping.pod": {"test-file-mapping", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			host, err := os.ReadFile("/etc/resolv.conf")
			if err != nil {
				t.Fatal(err)
			}
			if got := exec(h, pod, "mapping", "cat", "/etc/resolv.conf"); got != string(host) {
				t.Errorf("/etc/resolv.conf in the container: %q, want the host's %q", got, host)
			}
		}},
		"multi-container.pod": {"test-container-multi", func(t *testing.T, h *hyperd, pod string) {
			p := running(t, h, pod)
			var names []string
			for _, c := range p.Containers {
				names = append(names, c.Name)
			}
			if !slices.Equal(names, []string{"web", "top", "vmstat"}) {
				t.Errorf("containers %v", names)
			}
			waitFor(t, time.Minute, "web to serve on 8080, seen from top", func() bool {
				out, _, code := h.run("", "exec", "-c", "top", pod, "wget", "-qO-", "http://127.0.0.1:8080/")
				return code == 0 && out == "stand-in tomcat\n"
			})
			if ps := exec(h, pod, "top", "ps", "-o", "args"); !strings.Contains(ps, "/usr/bin/top") {
				t.Errorf("top does not run:\n%s", ps)
			}
			waitFor(t, time.Minute, "vmstat's output", func() bool { return strings.Contains(h.ok("logs", "-c", "vmstat", pod), "MemTotal") })
			if rp := p.Spec.Containers[2].RestartPolicy; rp != types.RestartPolicyAlways {
				t.Errorf("vmstat's restart policy %q", rp)
			}
		}},
		"port-mapping.pod": {"port-mapping-test", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			// Traffic through each network mode: TestPortMappingExample.
			if out := h.ok("port", pod); strings.Count(out, "->") != 11 || !strings.Contains(out, "1300/tcp -> 0.0.0.0:3000") {
				t.Errorf("port = %q, want 11 mappings, 1300-1310 -> 3000-3010", out)
			}
			sendThroughPort(t, h, ns, pod, "3000")
		}},
		"tomcat.pod": {"test-container-create-tomcat", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			waitFor(t, time.Minute, "web to serve on 8080", func() bool {
				out, _, code := h.run("", "exec", "-c", "web", pod, "wget", "-qO-", "http://127.0.0.1:8080/")
				return code == 0 && out == "stand-in tomcat\n"
			})
		}},
		"ubuntu-attach-files.pod": {"test-container-ubuntu-attach-files", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			const f = "/etc/mysql/conf.d/disable-aio.cnf"
			if got := exec(h, pod, "ubuntu", "stat", "-c", "%a %U %G", f, "/etc/mysql/conf.d"); got != "777 root root\n755 root root\n" {
				t.Errorf("stat of the file and its directory: %q", got)
			}
			if got := exec(h, pod, "ubuntu", "cat", f); got != "[mysqld]\ninnodb_use_native_aio = FALSE" {
				t.Errorf("content %q", got)
			}
		}},
		"ubuntu-with-user.pod": {"test-container-create-ubuntu", func(t *testing.T, h *hyperd, pod string) {
			if p := waitExited(t, h, pod); p.State != types.StateExited || p.ExitCode != 0 {
				t.Fatalf("id: %s, exit %d, %q", p.State, p.ExitCode, p.Reason)
			}
			out := h.ok("logs", pod)
			for _, want := range []string{"uid=65534(nobody)", "gid=13(proxy)", "8(mail)", "24(cdrom)"} {
				if !strings.Contains(out, want) {
					t.Errorf("id said %q, want %s in it", out, want)
				}
			}
		}},
		"ubuntu.pod": {"test-container-create-ubuntu", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			// The stand-in bash execs sh: "/bin/sh /bin/bash" until it does.
			waitFor(t, 30*time.Second, "bash to run", func() bool {
				return strings.Contains(exec(h, pod, "ubuntu", "ps", "-o", "args"), "\n/bin/sh")
			})
		}},
		"ubuntu.yml": {"process-yaml-file-ubuntu", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			// memory takes the default, 256 MB: the guest sees a little less.
			var kb int
			if _, err := fmt.Sscanf(exec(h, pod, "ubuntu", "head", "-1", "/proc/meminfo"), "MemTotal: %d kB", &kb); err != nil || kb < 128<<10 || kb > 256<<10 {
				t.Errorf("MemTotal %d kB (%v), want the default 256 MB", kb, err)
			}
		}},
		"with-volume.pod": {"test-container-multi", func(t *testing.T, h *hyperd, pod string) {
			running(t, h, pod)
			// tmp is the host's /tmp, at /mnt in both containers.
			f, err := os.CreateTemp("/tmp", "hyex-")
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("from the host\n")
			f.Close()
			t.Cleanup(func() { os.Remove(f.Name()); os.Remove(f.Name() + ".shell") })
			base := filepath.Base(f.Name())
			for _, c := range []string{"web", "shell"} {
				if got := exec(h, pod, c, "cat", "/mnt/"+base); got != "from the host\n" {
					t.Errorf("%s reads the host's /tmp file: %q", c, got)
				}
			}
			exec(h, pod, "shell", "sh", "-c", "echo from shell > /mnt/"+base+".shell")
			if b, err := os.ReadFile(f.Name() + ".shell"); err != nil || string(b) != "from shell\n" {
				t.Errorf("written by shell into /mnt, on the host: %q %v", b, err)
			}
			// log is a new empty volume at /var/log in both.
			if got := exec(h, pod, "shell", "ls", "-A", "/var/log"); got != "" && got != "lost+found\n" {
				t.Errorf("log is not new and empty: %q", got)
			}
			exec(h, pod, "web", "sh", "-c", "echo from web > /var/log/web.log")
			if got := exec(h, pod, "shell", "cat", "/var/log/web.log"); got != "from web\n" {
				t.Errorf("shell reads web's log: %q", got)
			}
		}},
	}

	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	n, hp := 0, h
	for _, e := range entries {
		name := e.Name()
		if name == "README.md" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			h := &hyperd{} // a copy of the test's whose ok and run fail this subtest
			*h = *hp
			h.t = t
			path := filepath.Join(examplesDir, name)
			if reasons, ok := refused[name]; ok {
				_, errs, code := h.run("", "run", "-d", "-p", path)
				if code != 125 {
					t.Errorf("exit %d, want 125 (stderr %q)", code, errs)
				}
				for _, r := range reasons {
					if !strings.Contains(errs, r) {
						t.Errorf("stderr %q lacks %q", errs, r)
					}
				}
				if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
					t.Errorf("refused pod left behind: %q", ps)
				}
				if left := podQemusUnder(h.dir); len(left) > 0 {
					t.Errorf("a refused pod started a VM: %v", left)
				}
				return
			}
			r, ok := runs[name]
			if !ok {
				t.Fatalf("example %s has no expectation in this test", name)
			}
			h.ok("run", "-d", "-p", path)
			defer h.ok("rm", "-f", r.pod)
			r.check(t, h, r.pod)
		})
	}
	if n != len(refused)+len(runs) {
		t.Errorf("%d examples, %d expectations", n, len(refused)+len(runs))
	}
}
