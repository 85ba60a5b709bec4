package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodFileFilesSysctlsExecVM: pod files (raw, base64, file://) land at
// their path with their mode and owner, also in a read-only root; sysctls
// are the pod's; exec --vm runs in the VM itself. One VM for all of it.
func TestPodFileFilesSysctlsExecVM(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	dir := t.TempDir()
	host := filepath.Join(dir, "host.txt")
	os.WriteFile(host, []byte("from the host\n"), 0o600)
	pod := filepath.Join(dir, "files.pod")
	os.WriteFile(pod, []byte(`{
  "id": "filer",
  "containers": [{
    "name": "main", "image": "busybox", "command": ["sleep", "1000"],
    "files": [
      {"filename": "raw", "path": "/etc/app/raw.conf", "perm": "0640", "user": "alice", "group": "staff"},
      {"filename": "b64", "path": "/root/test/", "perm": "0755"},
      {"filename": "host", "path": "/data/host.txt", "perm": "0600", "user": "1000", "group": "1000"},
      {"filename": "raw", "path": "/../../escape"}
    ],
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
  }, {
    "name": "ro", "image": "busybox", "command": ["sleep", "1000"], "readOnly": true,
    "files": [{"filename": "raw", "path": "/etc/ro.conf", "perm": "0444"}]
  }],
  "files": [
    {"name": "raw", "encoding": "raw", "content": "hello raw\n"},
    {"name": "b64", "encoding": "base64", "content": "aGVsbG8sDQpoeXBlciENCg=="},
    {"name": "host", "uri": "file://`+host+`"}
  ]
}`), 0o644)
	h.ok("run", "-d", "-p", pod) // returns once the containers run

	stat := func(ctr, p string) string {
		return strings.TrimSpace(h.ok("exec", "-c", ctr, "filer", "stat", "-c", "%a %u %g", p))
	}
	for p, want := range map[string]string{
		"/etc/app/raw.conf": "640 1000 50", // alice, staff in the image's passwd and group
		"/root/test/b64":    "755 0 0",
		"/data/host.txt":    "600 1000 1000",
		"/escape":           "644 0 0", // "/../../escape" stays in the root
	} {
		if got := stat("main", p); got != want {
			t.Errorf("%s: mode uid gid %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]string{"/etc/app/raw.conf": "hello raw\n", "/root/test/b64": "hello,\r\nhyper!\r\n", "/data/host.txt": "from the host\n"} {
		if got := h.ok("exec", "-c", "main", "filer", "cat", p); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	if got := stat("ro", "/etc/ro.conf"); got != "444 0 0" {
		t.Errorf("file in a read-only root: %q", got)
	}
	if _, errs, code := h.run("", "exec", "-c", "ro", "filer", "touch", "/x"); code == 0 || !strings.Contains(errs, "Read-only") {
		t.Errorf("the read-only root is writable after its files were written: %d %q", code, errs)
	}

	// Sysctls: the pod's network and IPC namespaces have them, shared by
	// both containers; the VM's own IPC namespace does not.
	for _, ctr := range []string{"main", "ro"} {
		if got := h.ok("exec", "-c", ctr, "filer", "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmax"); got != "1\n123456789\n" {
			t.Errorf("sysctls in %s: %q", ctr, got)
		}
	}
	if got := h.ok("exec", "--vm", "filer", "cat", "/proc/sys/kernel/shmmax"); got == "123456789\n" {
		t.Error("kernel.shmmax was set in the VM's IPC namespace, not the pod's")
	}

	// exec --vm: hyperstart is PID 1, the containers' roots are below.
	if got := h.ok("exec", "--vm", "filer", "readlink", "/proc/1/exe"); got != "/init\n" {
		t.Errorf("exec --vm: PID 1 is %q, want /init (hyperstart)", got)
	}
	if got := h.ok("exec", "--vm", "filer", "ls", "/run/hyper/containers"); !strings.Contains(got, "main") {
		t.Errorf("exec --vm: containers %q", got)
	}
	if _, errs, code := h.run("", "exec", "--vm", "-c", "main", "filer", "ls"); code != 125 || !strings.Contains(errs, "outside every container") {
		t.Errorf("exec --vm with a container: %d %q", code, errs)
	}
	h.ok("rm", "-f", "filer")
}

// TestPodFileFilesRefused: a corrupt base64 file (insert-file.pod's), a
// missing file:// file and a sysctl outside the pod's namespaces are
// refused with the field at fault, before any VM, leaving nothing.
func TestPodFileFilesRefused(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	dir := t.TempDir()
	cases := map[string]string{
		"files[0].content: bad base64 payload": `{"id": "corrupt", "containers": [{"image": "busybox", "files": [{"filename": "corrupt", "path": "/root/test/t3", "perm": "0000"}]}],
		  "files": [{"name": "corrupt", "encoding": "base64", "content": "VsbG8sDQpoeXBlciENCg="}]}`,
		"files[0].uri: file://" + dir + "/missing: cannot read " + dir + "/missing: no such file": `{"id": "missing", "containers": [{"image": "busybox"}],
		  "files": [{"name": "m", "uri": "file://` + dir + `/missing"}]}`,
		"is not a regular file":                    `{"id": "isdir", "containers": [{"image": "busybox"}], "files": [{"name": "d", "uri": "file://` + dir + `"}]}`,
		`sysctl "vm.swappiness" is not namespaced`: `{"id": "sysctl", "containers": [{"image": "busybox", "sysctl": {"vm.swappiness": "10"}}]}`,
	}
	b, err := os.ReadFile(examplePath(t, "insert-file.pod"))
	if err != nil {
		t.Fatal(err)
	}
	cases["files[4].content: bad base64 payload"] = string(b)
	i := 0
	for want, text := range cases {
		i++
		p := filepath.Join(dir, strings.Repeat("p", i)+".pod")
		os.WriteFile(p, []byte(text), 0o644)
		if _, errs, code := h.run("", "run", "-d", "-p", p); code != 125 || !strings.Contains(errs, want) {
			t.Errorf("exit %d, stderr %q; want 125 and %q", code, errs, want)
		}
	}
	if ps := h.ok("ps", "-a", "-q"); strings.TrimSpace(ps) != "" {
		t.Errorf("refused pods left behind: %q", ps)
	}
	if left := podQemusUnder(h.dir); len(left) > 0 {
		t.Errorf("a refused pod started a VM: %v", left)
	}
}
