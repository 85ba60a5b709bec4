package main

import (
	"crypto/tls"
	"log/slog"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/config"
	"github.com/hyperhq/hyper/internal/endpoint"
)

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
