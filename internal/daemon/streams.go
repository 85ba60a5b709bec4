package daemon

import (
	"cmp"
	"context"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/logs"
	"github.com/hyperhq/hyper/internal/sandbox"
)

// Streams adapts the daemon to api.Streams.
type Streams struct{ d *Daemon }

// Streams returns the daemon's api.Streams.
func (d *Daemon) Streams() Streams { return Streams{d} }

// Attach implements api.Streams. Attaching to a pod that has not started
// yet, or has exited, waits for its next run (docker's `start -a`).
func (x Streams) Attach(ctx context.Context, ref, container string, stdio api.Stdio) error {
	p, name, err := x.d.lookupContainer(ref, container)
	if err != nil {
		return err
	}
	return p.sb.Attach(ctx, name, sandbox.Stdio{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr,
		Attached: stdio.Attached})
}

// Logs implements api.Streams.
func (x Streams) Logs(ctx context.Context, ref string, o types.LogOptions, fn func(types.LogEntry) error) error {
	d := x.d
	p, name, err := d.findContainer(ref, o.Container, true)
	if err != nil {
		return err
	}
	cs, _, ok := p.sb.Container(name)
	if !ok {
		return errdefs.NotFound("pod %s has no container %q", ref, name)
	}
	path, done, err := p.sb.LogFile(cs.Name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	maxFiles := cmp.Or(logMaxFiles(p.rec.Spec), d.cfg.LogMaxFiles)
	p.mu.Unlock()
	return logs.Read(ctx, path, maxFiles,
		logs.ReadOptions{Tail: o.Tail, Since: o.Since, Follow: o.Follow, Done: done},
		func(e logs.Entry) error {
			return fn(types.LogEntry{Container: cs.Name, Stream: e.Stream, Time: e.Time, Log: e.Log})
		})
}

// Resize implements api.Streams.
func (x Streams) Resize(ctx context.Context, ref, container string, rows, cols uint16) error {
	p, name, err := x.d.lookupContainer(ref, container)
	if err != nil {
		return err
	}
	return p.sb.Resize(ctx, name, rows, cols)
}

// lookupContainer finds a pod and the name of one of its main containers
// (name "" is the first, or the one ref names: findContainer).
func (d *Daemon) lookupContainer(ref, name string) (*pod, string, error) {
	return d.findContainer(ref, name, false)
}
