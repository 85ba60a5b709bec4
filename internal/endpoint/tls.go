package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// TLSFiles are the PEM files of one end of a mutual TLS connection: the CA
// that signs the other end's certificate, and this end's certificate and
// key.
type TLSFiles struct {
	CA   string
	Cert string
	Key  string
}

// Names of the files in a certificate directory (HYPER_CERT_PATH), as in
// docker's DOCKER_CERT_PATH.
const (
	CAFile   = "ca.pem"
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// FilesIn are the files of directory dir.
func FilesIn(dir string) TLSFiles {
	return TLSFiles{CA: filepath.Join(dir, CAFile), Cert: filepath.Join(dir, CertFile), Key: filepath.Join(dir, KeyFile)}
}

// ServerConfig is hyperd's TLS over TCP: TLS 1.2 or later, HTTP/1.1 only
// (streams are upgraded HTTP/1.1 connections) and, with verifyClients, a
// client certificate signed by f.CA required of every connection.
// Without verifyClients f.CA is not read.
func ServerConfig(f TLSFiles, verifyClients bool) (*tls.Config, error) {
	cert, err := loadPair(f)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	if verifyClients {
		pool, err := loadCA(f.CA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig is hyperctl's TLS to a hyperd at serverName: the server's
// certificate must be signed by f.CA and name serverName, and the client
// presents f.Cert.
func ClientConfig(f TLSFiles, serverName string) (*tls.Config, error) {
	pool, err := loadCA(f.CA)
	if err != nil {
		return nil, err
	}
	cert, err := loadPair(f)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert},
		ServerName:   serverName,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

func loadPair(f TLSFiles) (tls.Certificate, error) {
	if f.Cert == "" || f.Key == "" {
		return tls.Certificate{}, errdefs.InvalidArgument("tls: a certificate and its key are required")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return tls.Certificate{}, errdefs.InvalidArgument("tls: loading certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	return cert, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, errdefs.InvalidArgument("tls: a CA certificate is required to verify the other end")
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, errdefs.InvalidArgument("tls: reading CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errdefs.InvalidArgument("tls: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// Describe says how a host is guarded, for logs and info: "mutual TLS",
// "TLS, clients not verified", "plain TCP" or "unix socket".
func Describe(h Host, cfg *tls.Config) string {
	switch {
	case h.Network == Unix:
		return "unix socket"
	case cfg == nil:
		return "plain TCP, no authentication"
	case cfg.ClientAuth == tls.RequireAndVerifyClientCert:
		return "mutual TLS"
	default:
		return "TLS, clients not verified"
	}
}
