package hypervisor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

type nopDriver struct{ opts Options }

func (nopDriver) Name() string { return "test-nop" }
func (nopDriver) Create(context.Context, Spec) (VM, error) {
	return nil, errdefs.Unavailable("nop")
}

// TestRegistry: a registered driver is made by name with the options; an
// unknown name is an invalid argument that lists the known ones.
func TestRegistry(t *testing.T) {
	Register("test-nop", func(o Options) (Driver, error) { return nopDriver{o}, nil })
	if !slices.Contains(Drivers(), "test-nop") {
		t.Fatalf("Drivers() = %v", Drivers())
	}
	d, err := New("test-nop", Options{Binary: "/bin/x"})
	if err != nil || d.(nopDriver).opts.Binary != "/bin/x" {
		t.Fatalf("New: %v, %v", d, err)
	}
	_, err = New("xen", Options{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "test-nop") {
		t.Fatalf("unknown driver: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register("test-nop", func(Options) (Driver, error) { return nil, nil })
}
