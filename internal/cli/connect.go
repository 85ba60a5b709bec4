package cli

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/endpoint"
)

// connection is how hyperctl reaches hyperd: -H, and for TCP the TLS
// flags, with docker's names (HYPER_* for DOCKER_* in the environment).
type connection struct {
	host      string
	tlsVerify bool
	tls       endpoint.TLSFiles
}

// addFlags adds the global connection flags, their defaults from the
// environment: HYPER_HOST, HYPER_TLS_VERIFY, HYPER_CERT_PATH (a directory
// with ca.pem, cert.pem and key.pem; default ~/.hyper).
func (o *connection) addFlags(pf *pflag.FlagSet) {
	host := os.Getenv("HYPER_HOST")
	if host == "" {
		host = DefaultHost
	}
	files := endpoint.FilesIn(certPath())
	pf.StringVarP(&o.host, "host", "H", host, "hyperd to connect to: unix:///path or tcp://HOST:PORT (env HYPER_HOST)")
	pf.BoolVar(&o.tlsVerify, "tlsverify", envBool("HYPER_TLS_VERIFY"), "TCP: use TLS, verify hyperd against --tlscacert and present --tlscert (env HYPER_TLS_VERIFY)")
	pf.StringVar(&o.tls.CA, "tlscacert", files.CA, "CA certificate that signs hyperd's certificate (env HYPER_CERT_PATH: its directory)")
	pf.StringVar(&o.tls.Cert, "tlscert", files.Cert, "client certificate")
	pf.StringVar(&o.tls.Key, "tlskey", files.Key, "client private key")
}

// certPath is HYPER_CERT_PATH, or ~/.hyper.
func certPath() string {
	if p := os.Getenv("HYPER_CERT_PATH"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".hyper"
	}
	return filepath.Join(home, ".hyper")
}

// envBool is a boolean environment variable: unset, empty, 0 or false is
// false; anything else true (docker's DOCKER_TLS_VERIFY is any value).
func envBool(name string) bool {
	v := os.Getenv(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}

// dial returns a client of the host; TCP with --tlsverify speaks mutual
// TLS, TCP without it plain HTTP (only a hyperd started with
// --insecure-tcp answers that). TLS settings do not apply to unix sockets.
func (o *connection) dial() (*client.Client, error) {
	host := o.host
	if host == "" {
		host = DefaultHost
	}
	h, err := endpoint.Parse(host)
	if err != nil {
		return nil, err
	}
	var cfg *tls.Config
	if h.Network == endpoint.TCP && o.tlsVerify {
		if cfg, err = endpoint.ClientConfig(o.tls, h.Name()); err != nil {
			return nil, err
		}
	}
	return client.NewHost(h, cfg), nil
}
