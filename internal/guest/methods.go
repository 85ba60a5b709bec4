package guest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/yamux"

	"github.com/hyperhq/hyper/internal/protocol"
)

var empty = protocol.Empty{}

// Ping checks that the guest answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, protocol.MethodPing, empty, nil)
}

// Resume sets the guest's wall clock, feeds its RNG and fixes NIC
// addresses: the first call on a new VM (see protocol.ResumeRequest).
func (c *Client) Resume(ctx context.Context, req protocol.ResumeRequest) error {
	return c.call(ctx, protocol.MethodResume, req, nil)
}

// CreatePod configures the pod: hostname, hosts, DNS, scratch disk.
func (c *Client) CreatePod(ctx context.Context, spec protocol.PodSpec) error {
	return c.call(ctx, protocol.MethodCreatePod, spec, nil)
}

// CreateContainer prepares a container's root filesystem.
func (c *Client) CreateContainer(ctx context.Context, spec protocol.ContainerSpec) error {
	return c.call(ctx, protocol.MethodCreateContainer, spec, nil)
}

// StopContainer stops every process of a container.
func (c *Client) StopContainer(ctx context.Context, req protocol.StopRequest) error {
	return c.call(ctx, protocol.MethodStopContainer, req, nil)
}

// RemoveContainer removes a stopped container.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	return c.call(ctx, protocol.MethodRemoveContainer, protocol.ContainerRef{Container: id}, nil)
}

// Shutdown asks the guest to sync and power the VM off. The VM exits soon
// after a successful reply.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.call(ctx, protocol.MethodShutdown, empty, nil)
}

// Process is a process started in a container, with its stdio streams.
type Process struct {
	c         *Client
	Container string
	Exec      string
	Pid       int
	// Stdin is nil unless the spec asked for stdin. Closing it closes the
	// process's stdin.
	Stdin io.WriteCloser
	// Stdout carries stdout, or the terminal's output.
	Stdout io.Reader
	// Stderr is nil for a terminal.
	Stderr io.Reader

	streams []*yamux.Stream
}

// Exec starts a process. With exec == protocol.InitExec it is the
// container's first process. The caller must drain Stdout and Stderr (or
// Close the Process): the guest stops the process's output, not the
// host's memory, when nobody reads.
func (c *Client) Exec(ctx context.Context, container, exec string, spec protocol.ProcessSpec) (*Process, error) {
	p, err := c.openStdio(ctx, container, exec, spec.Terminal, spec.Stdin)
	if err != nil {
		return nil, err
	}
	var res protocol.ExecResult
	if err := c.call(ctx, protocol.MethodExecProcess, protocol.ExecRequest{Container: container, Exec: exec, Process: spec}, &res); err != nil {
		p.Close()
		return nil, err
	}
	p.Pid = res.Pid
	return p, nil
}

// Attach takes over the stdio of a running process (started by an earlier
// session, e.g. before the daemon restarted). terminal and stdin must be as
// the process was started.
func (c *Client) Attach(ctx context.Context, container, exec string, terminal, stdin bool) (*Process, error) {
	p, err := c.openStdio(ctx, container, exec, terminal, stdin)
	if err != nil {
		return nil, err
	}
	if err := c.call(ctx, protocol.MethodAttachProcess, protocol.ProcessRef{Container: container, Exec: exec}, nil); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// openStdio opens a process's stdio streams: stdout, stderr unless it has
// a terminal, stdin if it has one.
func (c *Client) openStdio(ctx context.Context, container, exec string, terminal, stdin bool) (*Process, error) {
	p := &Process{c: c, Container: container, Exec: exec}
	names := []string{protocol.Stdout}
	if !terminal {
		names = append(names, protocol.Stderr)
	}
	if stdin {
		names = append(names, protocol.Stdin)
	}
	for _, name := range names {
		// Stdio streams live as long as the process, not the request.
		s, stop, err := c.openStream(context.WithoutCancel(ctx), protocol.StreamHeader{
			Kind: protocol.KindStdio, Container: container, Exec: exec, Stdio: name,
		})
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("stdio of %s/%s: %w", container, exec, err)
		}
		stop()
		p.streams = append(p.streams, s)
		switch name {
		case protocol.Stdout:
			p.Stdout = s
		case protocol.Stderr:
			p.Stderr = s
		case protocol.Stdin:
			p.Stdin = s
		}
	}
	return p, nil
}

// Wait blocks until the process has exited and all its output was sent.
func (p *Process) Wait(ctx context.Context) (protocol.ExitStatus, error) {
	var st protocol.ExitStatus
	err := p.c.call(ctx, protocol.MethodWaitProcess, protocol.ProcessRef{Container: p.Container, Exec: p.Exec}, &st)
	return st, err
}

// Signal sends sig to the process.
func (p *Process) Signal(ctx context.Context, sig int) error {
	return p.c.call(ctx, protocol.MethodSignalProcess, protocol.SignalRequest{Container: p.Container, Exec: p.Exec, Signal: sig}, nil)
}

// Resize sets the terminal's window size.
func (p *Process) Resize(ctx context.Context, rows, cols uint16) error {
	return p.c.call(ctx, protocol.MethodResizeTerminal, protocol.ResizeRequest{Container: p.Container, Exec: p.Exec, Rows: rows, Cols: cols}, nil)
}

// Close releases the stdio streams.
func (p *Process) Close() error {
	var errs []error
	for _, s := range p.streams {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
