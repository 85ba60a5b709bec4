package daemon

import (
	"context"
	"io"
	"path/filepath"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/logs"
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
	p.mu.Lock()
	i, ok := p.ctrIndex(name)
	if !ok {
		p.mu.Unlock()
		return errdefs.NotFound("pod %s has no container %q", ref, name)
	}
	out, c, restarted := p.outs[i], p.ctrs[i], p.restarted
	p.mu.Unlock()
	id, gone := out.subscribe(stdio.Stdout, stdio.Stderr)
	defer out.unsubscribe(id)
	select {
	case <-c.done: // exited: wait for the next run
		select {
		case <-restarted:
		case <-gone:
			return nil
		case <-ctx.Done():
			return nil
		}
		p.mu.Lock()
		i, ok = p.ctrIndex(name)
		if ok {
			c = p.ctrs[i]
		}
		p.mu.Unlock()
		if !ok { // removed meanwhile
			return nil
		}
	default:
	}
	if stdio.Stdin != nil && c.stdinW != nil {
		go func() {
			if _, err := io.Copy(c.stdinW, stdio.Stdin); err == nil {
				c.stdinW.Close() // the client's EOF closes the process's stdin
			}
		}()
	}
	select {
	case <-c.done:
	case <-gone:
	case <-ctx.Done():
	}
	return nil
}

// Logs implements api.Streams.
func (x Streams) Logs(ctx context.Context, ref string, o types.LogOptions, fn func(types.LogEntry) error) error {
	d := x.d
	p, err := d.lookup(ref)
	if err != nil {
		return err
	}
	p.mu.Lock()
	var name, dir string
	var done chan struct{}
	if i, ok := p.ctrIndex(o.Container); ok {
		name, dir, done = p.rec.Containers[i].Name, p.rec.Dir, p.ctrs[i].done
	} else if i, ok := p.initIndex(o.Container); ok && o.Container != "" {
		name, dir, done = p.rec.InitContainers[i].Name, p.rec.Dir, p.initDone[i]
	} else {
		p.mu.Unlock()
		return errdefs.NotFound("pod %s has no container %q", ref, o.Container)
	}
	p.mu.Unlock()
	return logs.Read(ctx, filepath.Join(dir, "logs", name+".log"), d.cfg.LogMaxFiles,
		logs.ReadOptions{Tail: o.Tail, Since: o.Since, Follow: o.Follow, Done: done},
		func(e logs.Entry) error {
			return fn(types.LogEntry{Container: name, Stream: e.Stream, Time: e.Time, Log: e.Log})
		})
}

// Resize implements api.Streams.
func (x Streams) Resize(ctx context.Context, ref, container string, rows, cols uint16) error {
	p, name, err := x.d.lookupContainer(ref, container)
	if err != nil {
		return err
	}
	p.mu.Lock()
	var proc *guest.Process
	if i, ok := p.ctrIndex(name); ok {
		proc = p.ctrs[i].proc // read under the lock: restarts replace it
	}
	p.mu.Unlock()
	if proc == nil {
		return errdefs.Conflict("pod %s is not running", ref)
	}
	return proc.Resize(ctx, rows, cols)
}

// lookupContainer finds a pod and the name of its container name ("" is
// the first). Containers may be added and removed (containers.go): the
// caller finds its index under the pod's lock.
func (d *Daemon) lookupContainer(ref, name string) (*pod, string, error) {
	p, err := d.lookup(ref)
	if err != nil {
		return nil, "", err
	}
	p.mu.Lock()
	i, ok := p.ctrIndex(name)
	if ok {
		name = p.rec.Containers[i].Name
	}
	p.mu.Unlock()
	if !ok {
		return nil, "", errdefs.NotFound("pod %s has no container %q", ref, name)
	}
	return p, name, nil
}
