// Package errdefs is Hyper's small set of error kinds. Errors are wrapped
// with context as they travel up; callers test the kind with errors.Is, and
// the API layer maps kinds to HTTP status codes in one place. Never match on
// error text.
//
// The constructors format their message as fmt.Errorf does, so a cause
// passed with %w stays visible to errors.Is and errors.As beside the kind.
// A cause may carry a kind of its own (a Conflict wrapping a NotFound, say):
// errors.Is then reports both, and Kind tells which one is outermost.
package errdefs

import (
	"errors"
	"fmt"
)

// The kinds.
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrUnavailable     = errors.New("unavailable")
)

// NotFound returns an error of kind ErrNotFound with a message.
func NotFound(format string, args ...any) error { return wrap(ErrNotFound, format, args...) }

// Conflict returns an error of kind ErrConflict with a message.
func Conflict(format string, args ...any) error { return wrap(ErrConflict, format, args...) }

// InvalidArgument returns an error of kind ErrInvalidArgument with a message.
func InvalidArgument(format string, args ...any) error {
	return wrap(ErrInvalidArgument, format, args...)
}

// Unavailable returns an error of kind ErrUnavailable with a message.
func Unavailable(format string, args ...any) error { return wrap(ErrUnavailable, format, args...) }

// Kind returns the kind of the first error made by this package in err's
// tree, in the order errors.As walks it (for a chain of wrappers, the
// outermost), or nil when there is none.
func Kind(err error) error {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.kind
	}
	return nil
}

type kindError struct {
	kind error
	err  error // fmt.Errorf's result: the message, and the causes it wraps
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Unwrap returns the causes given with %w: fmt.Errorf wraps one with
// Unwrap() error and several with Unwrap() []error.
func (e *kindError) Unwrap() []error {
	switch u := e.err.(type) {
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	case interface{ Unwrap() error }:
		if c := u.Unwrap(); c != nil {
			return []error{c}
		}
	}
	return nil
}

func wrap(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}
