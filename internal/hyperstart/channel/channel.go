// Package channel finds hyperstart's virtio-serial port and serves the
// host over it: a Hello line, then a yamux server session, and again after
// every disconnect. Processes keep running while no host is connected.
package channel

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/protocol"
)

// FindPort returns the device of the virtio-serial port called name,
// looking under sysRoot (normally "/sys") and waiting up to timeout for it
// to appear.
func FindPort(sysRoot, name string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		names, _ := filepath.Glob(filepath.Join(sysRoot, "class/virtio-ports/*/name"))
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == name {
				dev := "/dev/" + filepath.Base(filepath.Dir(n))
				if _, err := os.Stat(dev); err == nil {
					return dev, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("virtio-serial port %q not found within %v", name, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Open opens the channel at path: a unix socket (for development) is
// dialled, anything else (a virtio port) is opened read-write.
func Open(path string) (io.ReadWriteCloser, error) {
	if st, err := os.Stat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		c, err := net.Dial("unix", path)
		if err != nil {
			return nil, fmt.Errorf("dialling %s: %w", path, err)
		}
		return c, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return f, nil
}

// Session is the server side of a yamux session, as handed to the
// serve function.
type Session interface {
	Accept() (net.Conn, error)
}

// Config bounds a yamux session with the host.
func Config() *yamux.Config {
	c := yamux.DefaultConfig()
	c.AcceptBacklog = 256
	c.EnableKeepAlive = false // a host disconnect shows as EOF on the port
	c.ConnectionWriteTimeout = 30 * time.Second
	c.StreamCloseTimeout = time.Minute
	c.StreamOpenTimeout = 0 // the guest never opens streams
	c.LogOutput = nil
	c.Logger = slogLogger{}
	return c
}

// Serve runs sessions on the channel forever (until ctx ends): open it,
// write hello, serve a yamux session until the host goes away, repeat.
func Serve(ctx context.Context, open func() (io.ReadWriteCloser, error), hello func() protocol.Hello,
	serve func(context.Context, Session) error) {
	for ctx.Err() == nil {
		start := time.Now()
		if err := session(ctx, open, hello, serve); err != nil {
			slog.Info("host session ended", "err", err)
		}
		// Never spin if the port fails at once.
		if d := time.Since(start); d < time.Second {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second - d):
			}
		}
	}
}

func session(ctx context.Context, open func() (io.ReadWriteCloser, error), hello func() protocol.Hello,
	serve func(context.Context, Session) error) error {
	conn, err := open()
	if err != nil {
		return err
	}
	defer conn.Close()
	// Blocks until the host connects (virtio-serial semantics).
	if _, err := conn.Write(protocol.EncodeHello(hello())); err != nil {
		return fmt.Errorf("writing hello: %w", err)
	}
	sess, err := yamux.Server(conn, Config())
	if err != nil {
		return fmt.Errorf("starting yamux: %w", err)
	}
	defer sess.Close()
	slog.Info("host connected")
	return serve(ctx, sess)
}

// slogLogger routes yamux's log lines to slog at debug level: they are
// mostly about the host going away, which is normal.
type slogLogger struct{}

func (slogLogger) Print(v ...any) { slog.Debug(strings.TrimSpace(fmt.Sprint(v...))) }
func (slogLogger) Printf(format string, v ...any) {
	slog.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (slogLogger) Println(v ...any) { slog.Debug(strings.TrimSpace(fmt.Sprintln(v...))) }
