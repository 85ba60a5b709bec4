package main

import (
	"crypto/tls"
	"flag"
	"log/slog"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/config"
	"github.com/hyperhq/hyper/internal/endpoint"
)

// apiFlags are dockerd's flags for the API's listeners and their TLS.
type apiFlags struct {
	hosts                  []string
	tls, tlsVerify         *bool
	insecureTCP            *bool
	tlsCA, tlsCert, tlsKey *string
}

func addAPIFlags() *apiFlags {
	f := &apiFlags{}
	addHost := func(s string) error { f.hosts = append(f.hosts, s); return nil }
	flag.Func("host", "API host to listen on, unix:///path or tcp://ADDR:PORT (repeatable; replaces the config's)", addHost)
	flag.Func("H", "shorthand for --host", addHost)
	f.tls = flag.Bool("tls", false, "serve TCP hosts over TLS without verifying clients (needs --insecure-tcp)")
	f.tlsVerify = flag.Bool("tlsverify", false, "serve TCP hosts over TLS and require client certificates signed by --tlscacert")
	f.tlsCA = flag.String("tlscacert", "", "CA certificate (PEM) that signs client certificates")
	f.tlsCert = flag.String("tlscert", "", "server certificate (PEM)")
	f.tlsKey = flag.String("tlskey", "", "server private key (PEM)")
	f.insecureTCP = flag.Bool("insecure-tcp", false, "accept TCP hosts without mutual TLS: whoever reaches the port controls hyperd")
	return f
}

// apply overrides cfg with the flags that were set. An explicit --socket
// is one more host when there are hosts.
func (f *apiFlags) apply(cfg *config.Config, set map[string]bool, socket string) {
	for dst, v := range map[*string]string{&cfg.API.TLS.CA: *f.tlsCA, &cfg.API.TLS.Cert: *f.tlsCert, &cfg.API.TLS.Key: *f.tlsKey} {
		if v != "" {
			*dst = v
		}
	}
	for name, b := range map[string]struct{ dst, v *bool }{"tls": {&cfg.API.TLS.Enabled, f.tls},
		"tlsverify": {&cfg.API.TLS.Verify, f.tlsVerify}, "insecure-tcp": {&cfg.API.InsecureTCP, f.insecureTCP}} {
		if set[name] {
			*b.dst = *b.v
		}
	}
	if len(f.hosts) > 0 {
		cfg.API.Hosts = f.hosts
	}
	if socket != "" && len(cfg.API.Hosts) > 0 {
		cfg.API.Hosts = append(cfg.API.Hosts, "unix://"+socket)
	}
}

// openAPI opens the configured listeners, with the TLS of the TCP ones.
func openAPI(cfg config.Config, log *slog.Logger) ([]api.Listener, error) {
	hosts, err := cfg.Listeners()
	if err != nil {
		return nil, err
	}
	o := api.ListenOptions{Group: cfg.Group, InsecureTCP: cfg.API.InsecureTCP}
	if t := cfg.API.TLS; t.Enabled || t.Verify {
		var cfgTLS *tls.Config
		if cfgTLS, err = endpoint.ServerConfig(endpoint.TLSFiles{CA: t.CA, Cert: t.Cert, Key: t.Key}, t.Verify); err != nil {
			return nil, err
		}
		o.TLS = cfgTLS
	}
	return api.Open(hosts, o, log)
}

// apiInfo describes the listeners for info.
func apiInfo(ls []api.Listener) []types.APIListener {
	out := make([]types.APIListener, len(ls))
	for i, l := range ls {
		out[i] = types.APIListener{Host: l.Host.String(), Security: l.Security}
	}
	return out
}
