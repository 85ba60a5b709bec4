// Package protocol defines the host<->guest wire protocol spoken between the
// host (internal/guest) and hyperstart, the guest init.
//
// Transport: one byte stream (a virtio-serial port, or vsock). When hyperstart
// is ready it writes one Hello line (JSON, '\n'-terminated, at most
// MaxHelloSize bytes). After that the stream carries a yamux session in which
// the guest is the server: only the host opens streams. Every stream starts
// with a StreamHeader frame. An "rpc" stream then carries one request frame
// and one Response frame. A "stdio" stream carries raw bytes of one standard
// stream of one process; yamux's per-stream window is the flow control.
//
// A frame is a 4-byte big-endian length followed by that many bytes of JSON.
// Frames larger than MaxFrameSize are a protocol error. See docs/protocol.md.
package protocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Version is the protocol version. The host refuses a guest whose Hello
// carries another version.
const Version = 1

// Limits on what a peer may send.
const (
	MaxFrameSize = 1 << 20 // one JSON message
	MaxHelloSize = 4096    // the readiness line
)

// PortName is the name of the virtio-serial port carrying the channel.
const PortName = "hyper.0"

// A driver that carries the channel over vsock puts VsockParam=VsockPort
// on the kernel command line: hyperstart then listens on that port
// instead of opening the serial port.
const (
	VsockParam = "hyper.vsock"
	VsockPort  = 1024
)

// Hello is the readiness announcement written by the guest.
type Hello struct {
	Proto int    `json:"proto"`
	Agent string `json:"agent"` // hyperstart build version
	// BootNanos is the guest's CLOCK_BOOTTIME when hyperstart became ready.
	BootNanos int64 `json:"bootNanos"`
}

// ErrFrameTooLarge is returned for frames over MaxFrameSize.
var ErrFrameTooLarge = errors.New("frame exceeds maximum size")

// WriteFrame encodes v as JSON and writes it as one frame.
func WriteFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding frame: %w", err)
	}
	if len(b) > MaxFrameSize {
		return ErrFrameTooLarge
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame and decodes its JSON into v. Unknown fields are
// an error so that a confused peer is noticed early.
func ReadFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrameSize {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("reading frame body: %w", io.ErrUnexpectedEOF)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding frame: %w", err)
	}
	if dec.More() {
		return errors.New("decoding frame: trailing data")
	}
	return nil
}

// EncodeHello returns the Hello line as written on the wire.
func EncodeHello(h Hello) []byte {
	b, _ := json.Marshal(h)
	return append(b, '\n')
}

// ReadHello reads the Hello line. Bytes before a line starting with '{'
// (for example stale output from an earlier session) are skipped, but never
// more than MaxHelloSize bytes in all.
func ReadHello(r *bufio.Reader) (Hello, error) {
	var h Hello
	budget := MaxHelloSize
	for {
		line, err := readLineBounded(r, budget)
		if err != nil {
			return h, fmt.Errorf("reading hello: %w", err)
		}
		budget -= len(line)
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 || line[0] != '{' {
			if budget <= 0 {
				return h, errors.New("reading hello: no hello within size limit")
			}
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		if err := dec.Decode(&h); err != nil {
			return h, fmt.Errorf("decoding hello: %w", err)
		}
		if h.Proto != Version {
			return h, fmt.Errorf("guest speaks protocol %d, host speaks %d", h.Proto, Version)
		}
		return h, nil
	}
}

func readLineBounded(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for len(line) < max {
		c, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		line = append(line, c)
		if c == '\n' {
			return line, nil
		}
	}
	return nil, errors.New("line exceeds size limit")
}
