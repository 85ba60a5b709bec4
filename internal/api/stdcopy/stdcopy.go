// Package stdcopy multiplexes stdout and stderr over one byte stream the
// way docker does. Each frame is an 8-byte header followed by its payload:
//
//	[stream, 0, 0, 0, size (big-endian uint32)] payload
//
// stream is 1 (stdout), 2 (stderr) or 3 (system: an error message from the
// server, sent last). Stdin (0) is never framed.
package stdcopy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// StdType is a frame's stream.
type StdType byte

// The streams.
const (
	Stdin  StdType = 0
	Stdout StdType = 1
	Stderr StdType = 2
	System StdType = 3
)

const headerLen = 8

// maxFrame bounds a frame the Writer sends; larger writes are split.
const maxFrame = 1 << 20

// Mux writes frames to one underlying writer; its streams may be written
// concurrently.
type Mux struct {
	// mu is held across the writes on purpose: it keeps one frame's
	// header and body together on the underlying writer; nothing else
	// waits on it.
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewMux returns a Mux writing frames to w.
func NewMux(w io.Writer) *Mux { return &Mux{w: w} }

// Stream returns a writer whose every Write becomes frames of type t.
func (m *Mux) Stream(t StdType) io.Writer { return &streamWriter{m: m, t: t} }

// WriteFrame writes p as frames of type t. After a failed write every
// later one fails with the same error.
func (m *Mux) WriteFrame(t StdType, p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxFrame)]
		var hdr [headerLen]byte
		hdr[0] = byte(t)
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(chunk)))
		if _, err := m.w.Write(hdr[:]); err != nil {
			m.err = err
			return n, err
		}
		k, err := m.w.Write(chunk)
		n += k
		if err != nil {
			m.err = err
			return n, err
		}
		p = p[len(chunk):]
	}
	return n, nil
}

type streamWriter struct {
	m *Mux
	t StdType
}

func (s *streamWriter) Write(p []byte) (int, error) { return s.m.WriteFrame(s.t, p) }

// SystemError is a system frame (type 3) read from a stream: the server's
// report of an error after the stream began.
type SystemError struct{ Message string }

func (e *SystemError) Error() string { return e.Message }

// maxSystem bounds a system frame's payload that Copy reads into memory.
const maxSystem = 64 << 10

// Copy demultiplexes src into stdout and stderr (either may be nil to
// discard) until src ends. It returns nil at a clean end of src, a
// *SystemError if the server sent one, and io.ErrUnexpectedEOF for a
// truncated frame.
func Copy(stdout, stderr io.Writer, src io.Reader) (written int64, err error) {
	var hdr [headerLen]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			if err == io.EOF {
				return written, nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return written, fmt.Errorf("stdcopy: truncated frame header: %w", err)
			}
			return written, err
		}
		size := int64(binary.BigEndian.Uint32(hdr[4:]))
		var dst io.Writer
		switch StdType(hdr[0]) {
		case Stdout:
			dst = stdout
		case Stderr:
			dst = stderr
		case System:
			if size > maxSystem {
				return written, fmt.Errorf("stdcopy: system frame of %d bytes", size)
			}
			msg := make([]byte, size)
			if _, err := io.ReadFull(src, msg); err != nil {
				return written, fmt.Errorf("stdcopy: truncated system frame: %w", unexpected(err))
			}
			return written, &SystemError{Message: string(msg)}
		default:
			return written, fmt.Errorf("stdcopy: bad stream type %d in frame header", hdr[0])
		}
		if dst == nil {
			dst = io.Discard
		}
		n, err := io.CopyN(dst, src, size)
		written += n
		if err != nil {
			if n < size && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
				return written, fmt.Errorf("stdcopy: truncated frame: %w", io.ErrUnexpectedEOF)
			}
			return written, err
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
