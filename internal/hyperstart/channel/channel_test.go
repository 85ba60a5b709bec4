package channel

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/hyperstart/rpc"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

func TestFindPort(t *testing.T) {
	root := t.TempDir()
	for dev, name := range map[string]string{"vport0p1": "other", "vport0p2": protocol.PortName} {
		os.MkdirAll(filepath.Join(root, "class/virtio-ports", dev), 0o755)
		os.WriteFile(filepath.Join(root, "class/virtio-ports", dev, "name"), []byte(name+"\n"), 0o644)
	}
	// The device node /dev/vport0p2 does not exist here: not found.
	if _, err := FindPort(root, protocol.PortName, 50*time.Millisecond); err == nil {
		t.Fatal("found a port without device node")
	}
}

// TestServeReconnect runs two host sessions over pipes: each gets a Hello
// and a working yamux session.
func TestServeReconnect(t *testing.T) {
	conns := make(chan net.Conn)
	open := func() (io.ReadWriteCloser, error) {
		guest, host := net.Pipe()
		conns <- host
		return guest, nil
	}
	mux := rpc.NewMux(stdio.New(4, time.Minute))
	mux.Handle(protocol.MethodPing, rpc.Method(func(context.Context, protocol.Empty) (protocol.Empty, error) {
		return protocol.Empty{}, nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, open, func() protocol.Hello { return protocol.Hello{Proto: protocol.Version, Agent: "test"} },
		func(ctx context.Context, s Session) error { return mux.Serve(ctx, s) })
	for i := 0; i < 2; i++ {
		host := <-conns
		br := bufio.NewReader(host)
		h, err := protocol.ReadHello(br)
		if err != nil || h.Agent != "test" {
			t.Fatalf("hello %d: %+v %v", i, h, err)
		}
		cfg := yamux.DefaultConfig()
		cfg.LogOutput = io.Discard
		sess, err := yamux.Client(struct {
			io.Reader
			io.WriteCloser
		}{br, host}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		protocol.WriteFrame(s, protocol.StreamHeader{Kind: protocol.KindRPC, Method: protocol.MethodPing})
		protocol.WriteFrame(s, protocol.Empty{})
		var resp protocol.Response
		if err := protocol.ReadFrame(s, &resp); err != nil || resp.Error != nil {
			t.Fatalf("ping %d: %+v %v", i, resp, err)
		}
		sess.Close()
		host.Close()
	}
}

func TestVsockPort(t *testing.T) {
	for cmdline, want := range map[string]uint32{
		"console=ttyS0 hyper.vsock=1024 quiet": 1024,
		"console=ttyS0":                        0,
		"hyper.vsock=nope":                     0,
		"hyper.vsockx=5":                       0,
	} {
		if got := VsockPort(cmdline); got != want {
			t.Errorf("%q: %d, want %d", cmdline, got, want)
		}
	}
}
