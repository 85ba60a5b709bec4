// Package errdefs is Hyper's small set of error kinds. Errors are wrapped
// with context as they travel up; callers test the kind with errors.Is, and
// the API layer maps kinds to HTTP status codes in one place. Never match on
// error text.
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

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func wrap(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
