// Package api serves hyperd's versioned REST API (JSON over HTTP on a unix
// socket) and maps Hyper's error kinds to HTTP status codes in one place.
// It talks to the daemon only through the small interfaces below.
package api

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// Stdio connects a process's standard streams to an API client. Stdin is
// nil when the client sends none; Stderr is nil for a terminal (its output
// all goes to Stdout). Closing of Stdin (EOF) closes the process's stdin.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Attached, on an attach, is called by the backend once the streams
	// are connected (output from then on reaches the client): the server
	// answers the upgrade then, so that a client that starts the pod
	// after its attach was answered misses nothing. Writes wait for it;
	// a backend that returns without calling it answers at its return.
	Attached func()
}

// Pods is the pod lifecycle. Pods are named by full ID, unique ID prefix, or
// name. Errors carry errdefs kinds.
type Pods interface {
	Create(ctx context.Context, spec types.PodSpec) (types.CreateResponse, error)
	Start(ctx context.Context, id string) error
	// Stop stops the containers (signal, then SIGKILL after timeout) and
	// powers the VM off; a negative timeout is the pod's own grace period
	// (its spec's StopTimeout, else 10 s).
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Kill sends a signal to the pod's containers' main processes.
	Kill(ctx context.Context, id string, signal int) error
	Remove(ctx context.Context, id string, force bool) error
	List(ctx context.Context, all bool) ([]types.Pod, error)
	Get(ctx context.Context, id string) (types.Pod, error)
	// Rename gives the pod a new name (Conflict if another pod has it).
	Rename(ctx context.Context, id, name string) error
	// Wait blocks until the pod's next exit (or returns at once if it has
	// exited and is not being started). ready is called once the waiter is
	// registered, so that a client may wait before it starts the pod.
	Wait(ctx context.Context, id string, ready func()) (types.WaitResponse, error)
}

// Streams are a pod's container I/O.
type Streams interface {
	// Attach connects stdio to a container's main process (container ""
	// is the first) until the process exits or ctx ends. Attaching before
	// Start receives all output from the first byte.
	Attach(ctx context.Context, id, container string, stdio Stdio) error
	// Logs sends stored output; with Follow, until the container exits.
	Logs(ctx context.Context, id string, o types.LogOptions, fn func(types.LogEntry) error) error
	// Resize sets the terminal size of a container's main process.
	Resize(ctx context.Context, id, container string, rows, cols uint16) error
}

// Execs are extra processes in running pods.
type Execs interface {
	CreateExec(ctx context.Context, pod string, spec types.ExecSpec) (types.CreateResponse, error)
	// StartExec runs the exec with stdio until it has exited and all its
	// output has been written.
	StartExec(ctx context.Context, id string, stdio Stdio) error
	ResizeExec(ctx context.Context, id string, rows, cols uint16) error
	InspectExec(ctx context.Context, id string) (types.ExecInfo, error)
}

// Images is the image store.
type Images interface {
	Load(ctx context.Context, r io.Reader) ([]types.Image, error)
	// Save writes a docker-save archive ("docker") or an OCI layout tar
	// ("oci") of refs.
	Save(ctx context.Context, w io.Writer, refs []string, format string) error
	List(ctx context.Context) ([]types.Image, error)
	Remove(ctx context.Context, ref string, force bool) error
}

// System reports on the daemon.
type System interface {
	Info(ctx context.Context) (types.Info, error)
	Version() types.Version
}

// Backend is everything the server serves.
type Backend struct {
	Pods    Pods
	Streams Streams
	Execs   Execs
	Images  Images
	System  System
	Volumes Volumes // nil: the volume endpoints answer 404
	Files   Files   // nil: the archive and changes endpoints answer 404
	// Containers may be nil: adding and removing containers answers 503.
	Containers Containers
	// Events may be nil: GET /events answers 404.
	Events Events
	// Metrics serves GET /metrics (Prometheus); nil: 404.
	Metrics http.Handler
	// Resources may be nil: stats answer 503.
	Resources Resources
}
