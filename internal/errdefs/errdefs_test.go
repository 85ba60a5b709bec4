package errdefs_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

var kinds = []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalidArgument, errdefs.ErrUnavailable}

// only checks that err is of kind want and of no other kind.
func only(t *testing.T, err, want error) {
	t.Helper()
	for _, k := range kinds {
		if errors.Is(err, k) != (k == want) {
			t.Errorf("%v: errors.Is(%v) = %v", err, k, errors.Is(err, k))
		}
	}
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind error
	}{
		{errdefs.NotFound("no such pod %s", "x"), errdefs.ErrNotFound},
		{errdefs.Conflict("pod %s is running", "x"), errdefs.ErrConflict},
		{errdefs.InvalidArgument("bad spec"), errdefs.ErrInvalidArgument},
		{errdefs.Unavailable("shutting down"), errdefs.ErrUnavailable},
		{fmt.Errorf("starting: %w", errdefs.Conflict("wrapped")), errdefs.ErrConflict},
	} {
		only(t, tc.err, tc.kind)
		if got := errdefs.Kind(tc.err); got != tc.kind {
			t.Errorf("Kind(%v) = %v, want %v", tc.err, got, tc.kind)
		}
	}
	if got := errdefs.Kind(errors.New("plain")); got != nil {
		t.Errorf("Kind(plain) = %v, want nil", got)
	}
	if got := errdefs.Kind(nil); got != nil {
		t.Errorf("Kind(nil) = %v, want nil", got)
	}
}

func TestCause(t *testing.T) {
	_, cause := os.Stat("/nonexistent/errdefs-test")
	err := errdefs.InvalidArgument("host path %s: %w", "/nonexistent/errdefs-test", cause)
	only(t, err, errdefs.ErrInvalidArgument)
	if !errors.Is(err, cause) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%v: the cause is not visible to errors.Is", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != cause {
		t.Errorf("%v: errors.As(*fs.PathError) = %v", err, pe)
	}
	if errors.Unwrap(err) != nil {
		// Unwrap() []error, as for fmt.Errorf with several %w.
		t.Errorf("errors.Unwrap(%v) = %v, want nil", err, errors.Unwrap(err))
	}

	if plain := errdefs.Conflict("pod x: %v", cause); errors.Is(plain, cause) {
		t.Errorf("%v: %%v must not wrap", plain)
	}
}

func TestSeveralCauses(t *testing.T) {
	a, b := errors.New("a failed"), &fs.PathError{Op: "open", Path: "/b", Err: fs.ErrPermission}
	err := errdefs.Unavailable("both: %w; %w", a, b)
	if want := "both: a failed; open /b: permission denied"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	only(t, err, errdefs.ErrUnavailable)
	if !errors.Is(err, a) || !errors.Is(err, b) || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("%v: a cause is not visible to errors.Is", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != b {
		t.Errorf("%v: errors.As(*fs.PathError) = %v", err, pe)
	}
}

// The message is what fmt.Sprintf gave before the constructors wrapped, %w
// formatting as %v.
func TestMessageUnchanged(t *testing.T) {
	cause := errors.New("unexpected EOF")
	for _, tc := range []struct {
		format string
		args   []any
	}{
		{"no such pod: x", nil},
		{"no such pod %q", []any{"x"}},
		{"layer %d (%s): %v", []any{2, "sha256:ab", cause}},
		{"100% sure", nil}, // a stray % as Sprintf shows it
		{"missing %s", nil},
		{"extra", []any{"arg"}},
	} {
		want := fmt.Sprintf(tc.format, tc.args...)
		for _, mk := range []func(string, ...any) error{errdefs.NotFound, errdefs.Conflict, errdefs.InvalidArgument, errdefs.Unavailable} {
			if got := mk(tc.format, tc.args...).Error(); got != want {
				t.Errorf("%q: Error() = %q, want %q", tc.format, got, want)
			}
		}
	}
	if got, want := errdefs.NotFound("archive: %w", cause).Error(), "archive: unexpected EOF"; got != want {
		t.Errorf("%%w: Error() = %q, want %q", got, want)
	}
}

// A cause with a kind of its own: errors.Is sees both, Kind the outer one.
func TestKindOuterWins(t *testing.T) {
	inner := errdefs.NotFound("no such container %s", "c")
	for _, err := range []error{
		errdefs.Conflict("pod x: %w", inner),
		fmt.Errorf("starting: %w", errdefs.Conflict("pod x: %w", inner)),
		errdefs.Conflict("pod x: %w and %w", errors.New("other"), inner),
	} {
		if !errors.Is(err, errdefs.ErrConflict) || !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, inner) {
			t.Errorf("%v: errors.Is does not see both kinds and the cause", err)
		}
		if got := errdefs.Kind(err); got != errdefs.ErrConflict {
			t.Errorf("Kind(%v) = %v, want %v", err, got, errdefs.ErrConflict)
		}
	}
	if got := errdefs.Kind(fmt.Errorf("x: %w", inner)); got != errdefs.ErrNotFound {
		t.Errorf("Kind through a plain wrapper = %v, want %v", got, errdefs.ErrNotFound)
	}
}
