package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hyperhq/hyper/internal/endpoint"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// DefaultSocket is where hyperd listens and hyperctl connects by default.
const DefaultSocket = "/run/hyper/hyper.sock"

// SocketGroup owns the socket if it exists, so its members may use hyperd.
// Membership is full control of hyperd, root's equal (as docker's group).
const SocketGroup = "hyper"

// Listen listens on a unix socket at path, group SocketGroup if that group
// exists (see ListenUnix).
func Listen(path string) (net.Listener, error) {
	l, _, err := ListenUnix(path, SocketGroup)
	return l, err
}

// ListenUnix listens on a unix socket at path: it creates the parent
// directory, removes a stale socket (refusing if a live server answers
// there), and makes the socket mode 0660, group group. grouped is false
// if that group does not exist (or group is ""): the socket then keeps
// the daemon's group, root's.
func ListenUnix(path, group string) (l net.Listener, grouped bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("creating socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, false, errdefs.Conflict("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, false, errdefs.Conflict("%s: another server is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, false, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	l, err = net.Listen("unix", path)
	if err != nil {
		return nil, false, err
	}
	if ul, ok := l.(*net.UnixListener); ok {
		// Close removes the socket file.
		ul.SetUnlinkOnClose(true)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, false, fmt.Errorf("chmod socket: %w", err)
	}
	if group == "" {
		return l, false, nil
	}
	g, err := user.LookupGroup(group)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return l, false, nil
	}
	if err == nil {
		var gid int
		if gid, err = strconv.Atoi(g.Gid); err == nil {
			err = os.Chown(path, -1, gid)
		}
	}
	if err != nil {
		l.Close()
		return nil, false, fmt.Errorf("chgrp socket to %s: %w", group, err)
	}
	return l, true, nil
}

// ListenOptions say how the API's listeners are guarded.
type ListenOptions struct {
	// Group owns the unix sockets (mode 0660) if it exists.
	Group string
	// TLS is served on TCP hosts. Unless InsecureTCP, it must require
	// and verify client certificates, and TCP hosts need it.
	TLS *tls.Config
	// InsecureTCP accepts TCP hosts without mutual TLS: whoever reaches
	// the port controls hyperd. Each start logs it at WARN.
	InsecureTCP bool
}

// Listener is one open listener of the API.
type Listener struct {
	net.Listener
	Host endpoint.Host
	// TLS is what the listener serves; nil: plain (unix sockets, or
	// TCP with ListenOptions.InsecureTCP).
	TLS *tls.Config
	// Security says who may connect, for people: "mutual TLS", ...
	Security string
}

// Open listens on every host, or on none if one fails. It logs each
// listener and how it is guarded; TCP without mutual TLS at WARN.
func Open(hosts []endpoint.Host, o ListenOptions, log *slog.Logger) ([]Listener, error) {
	if len(hosts) == 0 {
		return nil, errdefs.InvalidArgument("no host to listen on")
	}
	if log == nil {
		log = slog.Default()
	}
	var ls []Listener
	fail := func(err error) ([]Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, h := range hosts {
		l, err := open(h, o, log)
		if err != nil {
			return fail(fmt.Errorf("listening on %s: %w", h, err))
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func open(h endpoint.Host, o ListenOptions, log *slog.Logger) (Listener, error) {
	switch h.Network {
	case endpoint.Unix:
		l, grouped, err := ListenUnix(h.Address, o.Group)
		if err != nil {
			return Listener{}, err
		}
		sec := "unix socket, mode 0660, group " + o.Group + ": its members control hyperd, root-equivalent"
		switch {
		case grouped:
			log.Info("api listening", "host", h, "security", sec)
		case o.Group == "":
			sec = "unix socket, mode 0660, root only"
			log.Info("api listening", "host", h, "security", sec)
		default:
			sec = "unix socket, mode 0660, root only (no group " + o.Group + ")"
			log.Info("api listening; its group does not exist, so only root may connect", "host", h, "security", sec,
				"fix", "groupadd --system "+o.Group+" (hack/install-deps.sh)")
		}
		return Listener{Listener: l, Host: h, Security: sec}, nil
	case endpoint.TCP:
		mutual := o.TLS != nil && o.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		if !mutual && !o.InsecureTCP {
			return Listener{}, errdefs.InvalidArgument("TCP without mutual TLS is refused (use --tlsverify, or --insecure-tcp to accept that anyone who reaches the port controls hyperd)")
		}
		l, err := net.Listen("tcp", h.Address)
		if err != nil {
			return Listener{}, err
		}
		h.Address = l.Addr().String() // the port, if it was 0
		how := endpoint.Describe(h, o.TLS)
		if mutual {
			log.Info("api listening", "host", h, "security", how)
		} else {
			log.Warn("API OPEN TO THE NETWORK: whoever reaches this port controls hyperd and every pod, root-equivalent on this host (--insecure-tcp)",
				"host", h, "security", how)
		}
		return Listener{Listener: l, Host: h, TLS: o.TLS, Security: how}, nil
	default:
		return Listener{}, errdefs.InvalidArgument("unknown network %q", h.Network)
	}
}

// Serve serves h on the listeners until ctx ends, then shuts down within
// ShutdownGrace+HandlerGrace: it stops accepting, lets the requests in
// flight finish for ShutdownGrace, then cancels their contexts and closes
// every connection, upgraded streams included. It returns when the
// shutdown is done even if some handlers are still running (stuck, say,
// on a guest that no longer answers): it logs them.
func Serve(ctx context.Context, ls []Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	requests := newInFlight()
	srv := &http.Server{
		Handler:           requests.wrap(h),
		ReadHeaderTimeout: 30 * time.Second, // the TLS handshake's bound too
		// Idle keep-alive connections end (clients drop theirs at 30s).
		IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return base },
		ConnContext: withPeer,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, len(ls))
	tracked := make([]*trackingListener, len(ls))
	for i, l := range ls {
		// Tracking under TLS: the server sees *tls.Conn (handshake
		// bound, r.TLS) and shutdown closes the raw connections.
		tracked[i] = newTrackingListener(l.Listener)
		var sl net.Listener = tracked[i]
		if l.TLS != nil {
			sl = tls.NewListener(sl, l.TLS)
		}
		go func() { errc <- srv.Serve(sl) }()
	}
	select {
	case err := <-errc:
		srv.Close()
		for _, l := range ls {
			l.Close()
		}
		return err
	case <-ctx.Done():
	}
	err := shutdown(srv, tracked, requests, cancelBase, log)
	for range ls {
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	return err
}

// ServeListener is Serve on one plain listener.
func ServeListener(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	return Serve(ctx, []Listener{{Listener: l}}, h, log)
}
