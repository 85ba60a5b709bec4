// Package guesttest is a fake guest for host-side tests: the guest
// protocol's opening (Hello, then a yamux session served by the guest) over
// any connection, with the streams the host opens handed to the test.
package guesttest

import (
	"io"
	"net"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/protocol"
)

// Serve says hello on g, then serves a yamux session on it, handing each
// stream the host opens to handle (in a goroutine of its own), until the
// session ends.
func Serve(g net.Conn, handle func(s net.Conn)) {
	if _, err := g.Write(protocol.EncodeHello(protocol.Hello{Proto: protocol.Version, Agent: "fake"})); err != nil {
		return
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := yamux.Server(g, cfg)
	if err != nil {
		return
	}
	for {
		s, err := sess.Accept()
		if err != nil {
			return
		}
		go handle(s)
	}
}
