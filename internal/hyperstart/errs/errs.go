// Package errs carries protocol error codes on Go errors, so that every
// layer of hyperstart can say why a request failed and the rpc layer can
// turn that into a protocol.Error for the host.
package errs

import (
	"errors"
	"fmt"

	"github.com/hyperhq/hyper/internal/protocol"
)

// Error is an error with a protocol error code.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func newf(code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// NotFound reports that a named object does not exist.
func NotFound(format string, args ...any) error {
	return newf(protocol.CodeNotFound, format, args...)
}

// Invalid reports a malformed request.
func Invalid(format string, args ...any) error {
	return newf(protocol.CodeInvalidArgument, format, args...)
}

// Conflict reports a request that does not fit the current state.
func Conflict(format string, args ...any) error {
	return newf(protocol.CodeConflict, format, args...)
}

// Unavailable reports a transient failure or a missing resource the
// request depends on (a disk that never appeared, a dead pod).
func Unavailable(format string, args ...any) error {
	return newf(protocol.CodeUnavailable, format, args...)
}

// Internal reports an unexpected failure.
func Internal(format string, args ...any) error {
	return newf(protocol.CodeInternal, format, args...)
}

// WithCode wraps err with a code unless it already carries one.
func WithCode(code string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: code, Err: err}
}

// Code returns the protocol code of err: the outermost code found when
// unwrapping, or CodeInternal.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return protocol.CodeInternal
}

// ToProtocol converts err for the wire.
func ToProtocol(err error) *protocol.Error {
	if err == nil {
		return nil
	}
	return &protocol.Error{Code: Code(err), Message: err.Error()}
}

// FromProtocol converts a wire error back into a coded error.
func FromProtocol(pe *protocol.Error) error {
	if pe == nil {
		return nil
	}
	code := pe.Code
	switch code {
	case protocol.CodeNotFound, protocol.CodeInvalidArgument, protocol.CodeConflict,
		protocol.CodeUnavailable, protocol.CodeInternal:
	default:
		code = protocol.CodeInternal
	}
	return &Error{Code: code, Err: errors.New(pe.Message)}
}
