package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/endpoint/certtest"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// serveTCP serves f on 127.0.0.1, an ephemeral port, as o says, and
// returns the host and what the server logged.
func serveTCP(t *testing.T, f *fake, o api.ListenOptions) (endpoint.Host, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	// Written by Open only: the server logs the rest at debug level.
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := apitest.ServeHost(t, f.backend(), log, endpoint.Host{Network: endpoint.TCP, Address: "127.0.0.1:0"}, o)
	return h, &logs
}

// mutualTLS serves f with mutual TLS and returns its host and the CA.
func mutualTLS(t *testing.T, f *fake) (endpoint.Host, *certtest.CA) {
	t.Helper()
	ca := certtest.NewCA(t, "hyper test CA")
	srv, err := endpoint.ServerConfig(ca.Issue(t, certtest.Server, "hyperd", "127.0.0.1"), true)
	if err != nil {
		t.Fatal(err)
	}
	h, logs := serveTCP(t, f, api.ListenOptions{TLS: srv})
	if strings.Contains(logs.String(), "WARN") {
		t.Errorf("mutual TLS logged a warning: %s", logs)
	}
	return h, ca
}

func tlsClient(t *testing.T, h endpoint.Host, files endpoint.TLSFiles) *client.Client {
	t.Helper()
	cfg, err := endpoint.ClientConfig(files, h.Name())
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewHost(h, cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTLSClientWithCertificate(t *testing.T) {
	f := &fake{}
	h, ca := mutualTLS(t, f)
	c := tlsClient(t, h, ca.Issue(t, certtest.Client, "alice"))
	ctx := ctxT(t)
	if v, err := c.Version(ctx); err != nil || v.APIVersion != "v1" {
		t.Fatalf("version over TLS: %+v %v", v, err)
	}
	// An upgraded stream: stdin up, its EOF (TLS close_notify), output down.
	f.attach = func(ctx context.Context, id, container string, stdio api.Stdio) error { return echoAttach(stdio) }
	s, err := c.Attach(ctx, "web", client.AttachOptions{Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	io.WriteString(s, "over tls\n")
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := s.Copy(&out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\nover tls\n<EOF>" || errb.String() != "err1\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestTLSRefusesClients(t *testing.T) {
	f := &fake{}
	h, ca := mutualTLS(t, f)
	ctx := ctxT(t)
	// Trusts hyperd but presents no certificate.
	noCert, err := endpoint.ClientConfig(ca.Issue(t, certtest.Client, "nobody"), h.Name())
	if err != nil {
		t.Fatal(err)
	}
	noCert.Certificates = nil
	// Trusts hyperd and presents a certificate of another CA (sent
	// regardless of the CAs the server names, which Go's client heeds).
	other := certtest.NewCA(t, "another CA")
	otherFiles := other.Issue(t, certtest.Client, "mallory")
	otherFiles.CA = ca.Issue(t, certtest.Client, "unused").CA
	foreign, err := endpoint.ClientConfig(otherFiles, h.Name())
	if err != nil {
		t.Fatal(err)
	}
	foreign.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign.Certificates[0], nil }
	for name, c := range map[string]*client.Client{
		"no certificate":         client.NewHost(h, noCert),
		"another CA's cert":      client.NewHost(h, foreign),
		"plain HTTP on TLS port": client.NewHost(h, nil),
	} {
		_, err := c.Version(ctx)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("%s: %v is not Unavailable", name, err)
		}
		if _, err := c.Attach(ctx, "web", client.AttachOptions{Stdout: true}); err == nil {
			t.Errorf("%s: attach accepted", name)
		}
		c.Close()
	}
	if calls := len(f.calls); calls != 0 {
		t.Errorf("the backend was called %d times by refused clients", calls)
	}
	// A client that does not trust hyperd's CA refuses hyperd.
	distrust := ca.Issue(t, certtest.Client, "z")
	distrust.CA = other.Issue(t, certtest.Client, "w").CA
	if _, err := tlsClient(t, h, distrust).Version(ctx); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "--tlscacert") {
		t.Errorf("server of an unknown CA: %v", err)
	}
}

func TestTCPNeedsMutualTLSOrOptIn(t *testing.T) {
	ca := certtest.NewCA(t, "ca")
	serverFiles := ca.Issue(t, certtest.Server, "hyperd", "127.0.0.1")
	serverOnly, err := endpoint.ServerConfig(serverFiles, false)
	if err != nil {
		t.Fatal(err)
	}
	tcp := []endpoint.Host{{Network: endpoint.TCP, Address: "127.0.0.1:0"}}
	log := slog.New(slog.DiscardHandler)
	for name, o := range map[string]api.ListenOptions{"plain": {}, "tls without client verification": {TLS: serverOnly}} {
		if ls, err := api.Open(tcp, o, log); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v, %v", name, ls, err)
		}
	}
	// With the opt-in: served, and logged loudly.
	f := &fake{}
	h, logs := serveTCP(t, f, api.ListenOptions{InsecureTCP: true})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "plain TCP") {
		t.Errorf("insecure TCP not logged at WARN: %s", logs)
	}
	c := client.NewHost(h, nil)
	defer c.Close()
	if _, err := c.Version(ctxT(t)); err != nil {
		t.Errorf("insecure TCP: %v", err)
	}
	// A failed host closes those already open.
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	if _, err := api.Open([]endpoint.Host{{Network: endpoint.Unix, Address: sock}, tcp[0]}, api.ListenOptions{}, log); err == nil {
		t.Error("opened")
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket of a failed Open is left: %v", err)
	}
}

func TestTLSHandshakeRefusesOldVersions(t *testing.T) {
	f := &fake{}
	h, ca := mutualTLS(t, f)
	cfg, err := endpoint.ClientConfig(ca.Issue(t, certtest.Client, "old"), h.Name())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := client.NewHost(h, cfg).Version(ctxT(t)); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	// HTTP/2 is not offered: upgraded streams need HTTP/1.1.
	cfg2, _ := endpoint.ClientConfig(ca.Issue(t, certtest.Client, "h2"), h.Name())
	cfg2.NextProtos = []string{"h2", "http/1.1"}
	conn, err := tls.Dial("tcp", h.Address, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Errorf("negotiated %q", p)
	}
}

func TestSocketGroup(t *testing.T) {
	dir := t.TempDir()
	// A group that does not exist: 0660, the daemon's own group.
	l, grouped, err := api.ListenUnix(filepath.Join(dir, "a.sock"), "no-such-group-hyper")
	if err != nil || grouped {
		t.Fatalf("unknown group: %v %v", grouped, err)
	}
	l.Close()
	groups := []string{"daemon", api.SocketGroup}
	for _, name := range groups {
		g, err := user.LookupGroup(name)
		if err != nil {
			t.Logf("group %s: %v: not checked", name, err)
			continue
		}
		sock := filepath.Join(dir, name+".sock")
		l, grouped, err := api.ListenUnix(sock, name)
		if err != nil || !grouped {
			t.Fatalf("group %s: %v %v", name, grouped, err)
		}
		defer l.Close()
		fi, err := os.Stat(sock)
		if err != nil {
			t.Fatal(err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != gid || fi.Mode().Perm() != 0o660 {
			t.Errorf("socket %v gid %d, want 0660 gid %d (%s)", fi.Mode(), st.Gid, gid, name)
		}
	}
}

// BenchmarkVersion compares a request on a new connection (the cost of
// hyperctl's one-shot commands) on the unix socket and over mutual TLS.
func BenchmarkVersion(b *testing.B) {
	f := &fake{}
	ca := certtest.NewCA(b, "bench CA")
	srv, err := endpoint.ServerConfig(ca.Issue(b, certtest.Server, "hyperd", "127.0.0.1"), true)
	if err != nil {
		b.Fatal(err)
	}
	tcp := apitest.ServeHost(b, f.backend(), nil, endpoint.Host{Network: endpoint.TCP, Address: "127.0.0.1:0"}, api.ListenOptions{TLS: srv})
	cli, err := endpoint.ClientConfig(ca.Issue(b, certtest.Client, "bench"), tcp.Name())
	if err != nil {
		b.Fatal(err)
	}
	sock := apitest.Serve(b, f.backend(), nil)
	for name, newClient := range map[string]func() *client.Client{
		"unix": func() *client.Client { return client.New(sock) },
		"tls":  func() *client.Client { return client.NewHost(tcp, cli) },
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				c := newClient()
				if _, err := c.Version(context.Background()); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

func TestRequestLogNamesClient(t *testing.T) {
	f := &fake{}
	records := make(logRecords, 64)
	log := slog.New(slog.NewTextHandler(records, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sock := apitest.ServeHost(t, f.backend(), log, endpoint.Host{Network: endpoint.Unix, Address: filepath.Join(t.TempDir(), "s.sock")}, api.ListenOptions{})
	ca := certtest.NewCA(t, "ca")
	srv, err := endpoint.ServerConfig(ca.Issue(t, certtest.Server, "hyperd", "127.0.0.1"), true)
	if err != nil {
		t.Fatal(err)
	}
	tcp := apitest.ServeHost(t, f.backend(), log, endpoint.Host{Network: endpoint.TCP, Address: "127.0.0.1:0"}, api.ListenOptions{TLS: srv})
	for want, c := range map[string]*client.Client{
		fmt.Sprintf(`client="uid=%d gid=%d pid=%d"`, os.Getuid(), os.Getgid(), os.Getpid()): client.New(sock.Address),
		`client="CN=alice"`: tlsClient(t, tcp, ca.Issue(t, certtest.Client, "alice")),
	} {
		if _, err := c.Version(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		for r := ""; !strings.Contains(r, "msg=\"api request\""); {
			select {
			case r = <-records:
				if strings.Contains(r, "msg=\"api request\"") && !strings.Contains(r, want) {
					t.Errorf("request log lacks %s: %s", want, r)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no request logged for %s", want)
			}
		}
	}
}

// logRecords receives the server's log, a record per write.
type logRecords chan string

func (l logRecords) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}
