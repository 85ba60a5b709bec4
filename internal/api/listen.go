package api

import (
	"context"
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

	"github.com/hyperhq/hyper/internal/errdefs"
)

// DefaultSocket is where hyperd listens and hyperctl connects by default.
const DefaultSocket = "/run/hyper/hyper.sock"

// SocketGroup owns the socket if it exists, so its members may use hyperd.
const SocketGroup = "hyper"

// Listen listens on a unix socket at path: it creates the parent directory,
// removes a stale socket (refusing if a live server answers there), and
// makes the socket mode 0660, group SocketGroup if that group exists.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, errdefs.Conflict("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, errdefs.Conflict("%s: another server is listening there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if ul, ok := l.(*net.UnixListener); ok {
		// Close removes the socket file.
		ul.SetUnlinkOnClose(true)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	if g, err := user.LookupGroup(SocketGroup); err == nil {
		gid, err := strconv.Atoi(g.Gid)
		if err == nil {
			err = os.Chown(path, -1, gid)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("chgrp socket to %s: %w", SocketGroup, err)
		}
	}
	return l, nil
}

// Serve serves h on the unix socket at path (see Listen) until ctx ends,
// then shuts down within ShutdownGrace+HandlerGrace: it stops accepting,
// lets the requests in flight finish for ShutdownGrace, then cancels their
// contexts and closes every connection, upgraded streams included.
func Serve(ctx context.Context, path string, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	l, err := Listen(path)
	if err != nil {
		return err
	}
	return ServeListener(ctx, l, h, log)
}

// ServeListener is Serve on a listener already open. It returns when the
// shutdown is done even if some handlers are still running (stuck, say, on
// a guest that no longer answers): it logs them.
func ServeListener(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	tl := newTrackingListener(l)
	requests := newInFlight()
	srv := &http.Server{
		Handler:           requests.wrap(h),
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tl) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	err := shutdown(srv, tl, requests, cancelBase, log)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
