package qemu

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mdlayher/vsock"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// vsockDevice is the QEMU device of the vsock transport.
const vsockDevice = "vhost-vsock-device"

// vsockCID derives a VM's vsock context ID from its ID: stable across a
// daemon restart (re-attach), 3 and up (0-2 are reserved).
func vsockCID(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return 3 + h.Sum32()%(1<<30)
}

// usesVsock tells whether a QEMU command line has the vsock transport.
func usesVsock(cmdline []byte) bool { return bytes.Contains(cmdline, []byte(vsockDevice+",")) }

// DialChannel implements hypervisor.VM: the first channel over vsock with
// that transport, else the channel's virtio-serial socket.
func (v *vm) DialChannel(ctx context.Context, name string) (net.Conn, error) {
	for i, ch := range v.spec.Channels {
		if ch.Name != name {
			continue
		}
		if v.vsock && i == 0 {
			cid := vsockCID(v.spec.ID)
			return whileRunning(ctx, v, fmt.Sprintf("vsock %d:%d", cid, protocol.VsockPort), func() (net.Conn, error) {
				return vsock.Dial(cid, protocol.VsockPort, nil)
			})
		}
		return whileRunning(ctx, v, ch.SocketPath, func() (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", ch.SocketPath)
		})
	}
	return nil, errdefs.NotFound("vm %s has no channel %q", v.spec.ID, name)
}

// whileRunning calls connect until it succeeds, QEMU exits or ctx ends:
// QEMU creates its sockets, and the guest listens on vsock, a moment after
// it starts.
func whileRunning[T any](ctx context.Context, v *vm, what string, connect func() (T, error)) (T, error) {
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		c, err := connect()
		if err == nil {
			return c, nil
		}
		select {
		case <-v.done:
			return c, errdefs.Unavailable("qemu exited before %s could be reached%s", what, v.exited())
		case <-ctx.Done():
			return c, fmt.Errorf("connecting %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

// removeSockets removes what a QEMU that is gone left in its state dir.
func (v *vm) removeSockets() {
	os.Remove(filepath.Join(v.spec.StateDir, qmpSocket))
	for _, ch := range v.spec.Channels {
		os.Remove(ch.SocketPath)
	}
}
