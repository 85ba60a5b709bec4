package rpc

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/stdio"
	"github.com/hyperhq/hyper/internal/protocol"
)

type echoReq struct {
	Text string `json:"text"`
}

func setup(t *testing.T) (*yamux.Session, *stdio.Registry, chan struct{}) {
	t.Helper()
	a, b := net.Pipe()
	srv, err := yamux.Server(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := yamux.Client(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := stdio.New(8, time.Minute)
	m := NewMux(reg)
	afterRan := make(chan struct{})
	m.Handle("Echo", Method(func(ctx context.Context, r echoReq) (echoReq, error) { return r, nil }))
	m.Handle("Fail", Method(func(ctx context.Context, r protocol.Empty) (protocol.Empty, error) {
		return protocol.Empty{}, errs.Conflict("already there")
	}))
	m.Handle("Panic", Method(func(ctx context.Context, r protocol.Empty) (protocol.Empty, error) {
		var m map[string]int
		m["x"] = 1
		return protocol.Empty{}, nil
	}))
	m.Handle("After", Method(func(ctx context.Context, r protocol.Empty) (protocol.Empty, error) {
		AfterReply(ctx, func() { close(afterRan) })
		return protocol.Empty{}, nil
	}))
	go m.Serve(context.Background(), srv)
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, reg, afterRan
}

func call(t *testing.T, cli *yamux.Session, method string, req any) protocol.Response {
	t.Helper()
	s, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := protocol.WriteFrame(s, protocol.StreamHeader{Kind: protocol.KindRPC, Method: method}); err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteFrame(s, req); err != nil {
		t.Fatal(err)
	}
	var resp protocol.Response
	if err := protocol.ReadFrame(s, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDispatch(t *testing.T) {
	cli, _, after := setup(t)
	resp := call(t, cli, "Echo", echoReq{Text: "hi"})
	var got echoReq
	if resp.Error != nil || json.Unmarshal(resp.Result, &got) != nil || got.Text != "hi" {
		t.Fatalf("echo: %+v", resp)
	}
	if resp := call(t, cli, "Fail", protocol.Empty{}); resp.Error == nil || resp.Error.Code != protocol.CodeConflict {
		t.Fatalf("fail: %+v", resp)
	}
	if resp := call(t, cli, "Panic", protocol.Empty{}); resp.Error == nil || resp.Error.Code != protocol.CodeInternal {
		t.Fatalf("panic: %+v", resp)
	}
	if resp := call(t, cli, "Nope", protocol.Empty{}); resp.Error == nil || resp.Error.Code != protocol.CodeInvalidArgument {
		t.Fatalf("unknown: %+v", resp)
	}
	if resp := call(t, cli, "Echo", map[string]int{"bogus": 1}); resp.Error == nil || resp.Error.Code != protocol.CodeInvalidArgument {
		t.Fatalf("bad request: %+v", resp)
	}
	if resp := call(t, cli, "After", protocol.Empty{}); resp.Error != nil {
		t.Fatalf("after: %+v", resp)
	}
	select {
	case <-after:
	case <-time.After(5 * time.Second):
		t.Fatal("after-reply hook did not run")
	}
	// The session survives all of that.
	if resp := call(t, cli, "Echo", echoReq{Text: "again"}); resp.Error != nil {
		t.Fatalf("echo again: %+v", resp)
	}
}

func TestStdioStream(t *testing.T) {
	cli, reg, _ := setup(t)
	s, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	protocol.WriteFrame(s, protocol.StreamHeader{Kind: protocol.KindStdio, Container: "c", Exec: "e", Stdio: protocol.Stdout})
	conn, err := reg.Claim(context.Background(), stdio.Key{Container: "c", Exec: "e", Stdio: protocol.Stdout}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	go func() { conn.Write([]byte("hello")); conn.Close() }()
	b, err := io.ReadAll(s)
	if err != nil || string(b) != "hello" {
		t.Fatalf("got %q %v", b, err)
	}
	// A bad stdio header is refused by closing the stream.
	s2, _ := cli.OpenStream()
	protocol.WriteFrame(s2, protocol.StreamHeader{Kind: protocol.KindStdio, Container: "c", Exec: "e", Stdio: "bogus"})
	s2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("bogus stdio stream: %v", err)
	}
}
