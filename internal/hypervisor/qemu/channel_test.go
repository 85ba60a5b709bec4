package qemu

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// TestDialChannel: the serial channel's socket is dialled once QEMU has
// made it; a VM that exits first, or a channel it lacks, is an error.
func TestDialChannel(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "hyper.sock")
	s := hypervisor.Spec{ID: "p1", StateDir: dir, Channels: []hypervisor.Channel{{Name: "hyper.0", SocketPath: sock}}}
	v := New(Options{TSCKHz: 1}).newVM(s, nil)
	served := make(chan struct{})
	go func() {
		defer close(served)
		time.Sleep(30 * time.Millisecond) // QEMU starting
		l, err := net.Listen("unix", sock)
		if err != nil {
			return
		}
		defer l.Close()
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := v.DialChannel(ctx, "hyper.0")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Read(make([]byte, 1)); n != 1 {
		t.Error("read nothing from the channel")
	}
	c.Close()
	if _, err := v.DialChannel(ctx, "other"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
	<-served      // its socket is closed, as QEMU's are when it exits
	close(v.done) // QEMU exited
	if _, err := v.DialChannel(ctx, "hyper.0"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("exited VM: %v", err)
	}
}

// TestVsockTransport: the transport is checked when the driver is made;
// with vsock, context IDs are never reserved ones and templates are
// refused.
func TestVsockTransport(t *testing.T) {
	if _, err := hypervisor.New(DriverName, hypervisor.Options{Transport: "carrier-pigeon"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown transport: %v", err)
	}
	for _, id := range []string{"", "a", "p1", "0123456789abcdef"} {
		if c := vsockCID(id); c < 3 || c != vsockCID(id) {
			t.Errorf("vsockCID(%q) = %d", id, c)
		}
	}
	d := New(Options{Transport: TransportVsock, TSCKHz: 1})
	if err := d.SaveTemplate(context.Background(), spec(), t.TempDir()); !errors.Is(err, hypervisor.ErrNoTemplate) {
		t.Errorf("template with vsock: %v", err)
	}
	if _, err := d.Restore(context.Background(), spec(), t.TempDir()); !errors.Is(err, hypervisor.ErrNoTemplate) {
		t.Errorf("restore with vsock: %v", err)
	}
}
