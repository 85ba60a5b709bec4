package e2e

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/endpoint/certtest"
	"github.com/hyperhq/hyper/internal/testenv"
)

// TestRemoteTLS runs pods through hyperd's TCP listener with mutual TLS,
// streams included (run's attach, exec -i's stdin and its EOF), and checks
// that a client without a certificate is turned away.
func TestRemoteTLS(t *testing.T) {
	ca := certtest.NewCA(t, "hyper e2e CA")
	srv := ca.Issue(t, certtest.Server, "hyperd", "127.0.0.1")
	cli := ca.Issue(t, certtest.Client, "e2e")
	h := launch(t, &hyperd{args: []string{"--host", "tcp://127.0.0.1:0", "--tlsverify",
		"--tlscacert", srv.CA, "--tlscert", srv.Cert, "--tlskey", srv.Key}})
	info, err := h.client.Info(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	var tcp string
	for _, l := range info.API {
		if strings.HasPrefix(l.Host, "tcp://") && l.Security == "mutual TLS" {
			tcp = l.Host
		}
	}
	if hh, err := endpoint.Parse(tcp); err != nil || strings.HasSuffix(hh.Address, ":0") {
		t.Fatalf("info lists no bound TCP listener with mutual TLS: %+v (%v)", info.API, err)
	}
	if len(info.API) != 2 || info.Isolation.Mechanism == "" {
		t.Errorf("info: api %+v isolation %+v", info.API, info.Isolation)
	}
	checkSocketGroup(t, h.sock)
	h.loadBusybox()
	remote := []string{"--tlsverify", "-H", tcp, "--tlscacert", cli.CA, "--tlscert", cli.Cert, "--tlskey", cli.Key}
	if out, errs, code := h.run("", append(remote, "run", "--rm", "busybox", "echo", "hi")...); code != 0 || out != "hi\n" {
		t.Fatalf("run over TLS: exit %d, out %q, err %q", code, out, errs)
	}
	h.ok(append(remote, "run", "-d", "--name", "web", "busybox", "sleep", "600")...)
	if out, errs, code := h.run("abc", append(remote, "exec", "-i", "web", "cat")...); code != 0 || out != "abc" {
		t.Fatalf("exec -i over TLS: exit %d, out %q, err %q", code, out, errs)
	}
	// exec -it: a terminal, its keystrokes up and its screen down.
	cmd := exec.Command(h.ctl, append(remote, "exec", "-it", "web", "sh", "-c", `tty >/dev/null && echo "a tty"; read l; echo "got $l"`)...)
	ptmx, screen := startPTY(t, cmd)
	waitFor(t, time.Minute, "exec -it's prompt", func() bool { return strings.Contains(screen(), "a tty") })
	io.WriteString(ptmx, "typed\r")
	waitFor(t, 30*time.Second, "exec -it's echo", func() bool { return strings.Contains(screen(), "got typed") })
	if err := cmd.Wait(); err != nil {
		t.Errorf("exec -it over TLS: %v: %q", err, screen())
	}
	h.ok(append(remote, "run", "-d", "--name", "lf", "busybox", "sh", "-c", "echo a; sleep 1; echo b")...)
	if out := h.ok(append(remote, "logs", "-f", "lf")...); out != "a\nb\n" {
		t.Errorf("logs -f over TLS: %q", out)
	}
	if out := h.ok(append(remote, "info")...); !strings.Contains(out, "Isolation:") || !strings.Contains(out, "mutual TLS") {
		t.Errorf("info over TLS:\n%s", out)
	}
	// No certificate, or no TLS at all: refused.
	if _, errs, code := h.run("", "-H", tcp, "--tlsverify", "--tlscacert", cli.CA, "--tlscert", "", "--tlskey", "", "ps"); code == 0 {
		t.Errorf("a client without a certificate got in: %s", errs)
	}
	if _, errs, code := h.run("", "-H", tcp, "ps"); code == 0 || !strings.Contains(errs, "--tlsverify") {
		t.Errorf("plain HTTP on the TLS port: exit %d, %s", code, errs)
	}
	h.ok(append(remote, "rm", "-f", "web")...)
}

// TestTCPWithoutTLSRefused: hyperd will not serve TCP without mutual
// TLS unless told --insecure-tcp, and says why. No VM is needed: the
// refusal comes first.
func TestTCPWithoutTLSRefused(t *testing.T) {
	bin := testenv.Binary(t, "./cmd/hyperd")
	for _, args := range [][]string{
		{"--host", "tcp://127.0.0.1:0"},
		{"--host", "tcp://127.0.0.1:0", "--tls", "--tlscert", "c.pem", "--tlskey", "k.pem"},
	} {
		out, err := exec.Command(bin, append([]string{"--config", "/dev/null", "--root", t.TempDir()}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--tlsverify") || !strings.Contains(string(out), "--insecure-tcp") {
			t.Errorf("hyperd %v: %v\n%s", args, err, out)
		}
	}
}

// checkSocketGroup checks hyperd's socket is mode 0660, group hyper if
// that group exists.
func checkSocketGroup(t *testing.T, sock string) {
	t.Helper()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode())
	}
	g, err := user.LookupGroup(api.SocketGroup)
	if err != nil {
		t.Logf("group %s: %v: the socket's group is not checked (hack/install-deps.sh creates it)", api.SocketGroup, err)
		return
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; strconv.FormatUint(uint64(gid), 10) != g.Gid {
		t.Errorf("socket gid %d, want %s (%s)", gid, g.Gid, api.SocketGroup)
	}
}
