package cli

import (
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/endpoint/certtest"
)

// serveTLS serves b over mutual TLS on 127.0.0.1 and returns -H's value
// and a directory of client certificate files (HYPER_CERT_PATH).
func serveTLS(t *testing.T, b api.Backend) (host string, certs endpoint.TLSFiles) {
	t.Helper()
	ca := certtest.NewCA(t, "hyper test CA")
	srv, err := endpoint.ServerConfig(ca.Issue(t, certtest.Server, "hyperd", "127.0.0.1"), true)
	if err != nil {
		t.Fatal(err)
	}
	h := apitest.ServeHost(t, b, nil, endpoint.Host{Network: endpoint.TCP, Address: "127.0.0.1:0"}, api.ListenOptions{TLS: srv})
	return h.String(), ca.Issue(t, certtest.Client, "hyperctl")
}

func TestTLSFlags(t *testing.T) {
	f := newFakeDaemon()
	host, certs := serveTLS(t, fakeBackend(f))
	tlsArgs := []string{"--tlsverify", "--tlscacert", certs.CA, "--tlscert", certs.Cert, "--tlskey", certs.Key}
	// A streaming command (attach, stdin's EOF, wait) and a streamed body.
	r := hyperctl(t, host, "piped input\n", append(tlsArgs, "run", "-i", "--rm", "busybox", "cat", "-n")...)
	if r.code != 0 || r.out != "hello\npiped input\n" || r.err != "warn\n" {
		t.Fatalf("run over TLS: %+v", r)
	}
	r = hyperctl(t, host, "", append(tlsArgs, "logs", "web")...)
	if r.code != 0 || r.out != "out line\n" || r.err != "err line\n" {
		t.Errorf("logs over TLS: %+v", r)
	}
	pb, _, _ := pullBackend(newFakeDaemon())
	pullHost, pullCerts := serveTLS(t, pb)
	r = hyperctl(t, pullHost, "", "--tlsverify", "--tlscacert", pullCerts.CA, "--tlscert", pullCerts.Cert, "--tlskey", pullCerts.Key, "pull", "busybox")
	if r.code != 0 || !strings.Contains(r.out, "aaaaaaaaaaaa: extracting\n") {
		t.Errorf("pull progress over TLS: %+v", r)
	}
	// Without TLS, or without a client certificate, hyperd refuses.
	r = hyperctl(t, host, "", "ps")
	if r.code == 0 || !strings.Contains(r.err, "--tlsverify") {
		t.Errorf("plain HTTP to the TLS port: %+v", r)
	}
	r = hyperctl(t, host, "", "--tlsverify", "--tlscacert", certs.CA, "--tlscert", certs.CA, "--tlskey", certs.Key, "ps")
	if r.code == 0 || !strings.Contains(r.err, "tls:") {
		t.Errorf("mismatched key: %+v", r)
	}
	r = hyperctl(t, host, "", "--tlsverify", "--tlscacert", "/nonexistent/ca.pem", "ps")
	if r.code == 0 || !strings.Contains(r.err, "CA certificate") {
		t.Errorf("missing CA file: %+v", r)
	}
}

func TestTLSEnvironment(t *testing.T) {
	f := newFakeDaemon()
	host, certs := serveTLS(t, fakeBackend(f))
	t.Setenv("HYPER_HOST", host)
	t.Setenv("HYPER_CERT_PATH", certtest.Dir(certs))
	var r result
	for _, v := range []string{"1", "yes"} {
		t.Setenv("HYPER_TLS_VERIFY", v)
		r = hyperctl(t, "", "in\n", "exec", "-i", "web", "cat", "-u")
		if r.code != 0 || r.out != "hello\nin\n" {
			t.Errorf("exec with HYPER_TLS_VERIFY=%s: %+v", v, r)
		}
	}
	t.Setenv("HYPER_TLS_VERIFY", "0")
	if r = hyperctl(t, "", "", "ps"); r.code == 0 {
		t.Errorf("HYPER_TLS_VERIFY=0 spoke TLS: %+v", r)
	}
}
