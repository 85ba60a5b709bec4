package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hyperhq/hyper/internal/api/signals"
	"github.com/hyperhq/hyper/internal/api/stdcopy"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

// proxiedSignals are forwarded to the pod while hyperctl is attached.
var proxiedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// session is run / start -a / attach: attach to a pod's container, wait
// for it, maybe start it, and copy streams until its output ends.
type session struct {
	pod       string
	container string
	stdin     bool // forward hyperctl's stdin
	tty       bool // the container has a terminal
	start     bool // start the pod once attached and waiting
	// waitAfterStart: the pod has exited before, so its wait is
	// registered after the start (see runSession).
	waitAfterStart bool
	sigProxy       bool // forward signals with kill
	// ctrExit: the status is the container's, read once its output
	// ended, not the pod's (attach to a container other than the first,
	// whose end need not end the pod).
	ctrExit bool
	// beforeStartFailed runs if the session fails before the pod started
	// (run --rm removes the pod).
	beforeStartFailed func()
}

type waitResult struct {
	res types.WaitResponse
	err error
}

// runSession returns the container's exit status, or an error.
func (h *cli) runSession(ctx context.Context, c *client.Client, s session) (code int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := false
	defer func() {
		if err != nil && !started && s.start && s.beforeStartFailed != nil {
			s.beforeStartFailed()
		}
	}()

	// 1. Attach first: the stream is open before the process makes output.
	stream, err := c.Attach(ctx, s.pod, client.AttachOptions{Container: s.container, Stdin: s.stdin, Stdout: true, Stderr: true})
	if err != nil {
		return 0, err
	}
	defer stream.Close()

	// 2. Register the wait before the start, so that the exit (and an
	// AutoRemove) is not missed. A pod that has exited before would be
	// answered at once with its old exit: wait for it after the start.
	waited := make(chan waitResult, 1)
	wait := func() error {
		ready := make(chan struct{})
		go func() {
			res, err := c.Wait(ctx, s.pod, func() { close(ready) })
			waited <- waitResult{res, err}
		}()
		select {
		case <-ready:
			return nil
		case r := <-waited:
			waited <- r
			return r.err // nil: answered at once
		}
	}
	if s.ctrExit {
		// no pod wait: containerExit reads the container's status
	} else if !s.start || !s.waitAfterStart {
		if err := wait(); err != nil {
			return 0, err
		}
	}
	if s.start {
		if err := c.StartPod(ctx, s.pod); err != nil {
			return 0, err
		}
		started = true
		if s.waitAfterStart {
			if err := wait(); err != nil {
				return 0, err
			}
		}
	}

	// 3. Terminal: raw mode, size, and size changes.
	restore := func() {}
	if s.tty {
		if s.stdin {
			if restore, err = rawTerminal(h.streams.In); err != nil {
				return 0, fmt.Errorf("setting the terminal to raw mode: %w", err)
			}
		}
		resize := func() {
			if hgt, wid, ok := terminalSize(h.streams.Out, h.streams.In); ok {
				if err := c.ResizePod(ctx, s.pod, s.container, hgt, wid); err != nil {
					h.log.Debug("resize", "err", err)
				}
			}
		}
		resize()
		stopWinch := notify(syscall.SIGWINCH, resize)
		defer stopWinch()
	}
	defer func() { restore() }()

	// 4. Signals go to the pod. In raw mode ^C is a byte for the remote
	// terminal, not a signal.
	if s.sigProxy {
		stopSigs := h.proxySignals(ctx, c, s.pod)
		defer stopSigs()
	}

	// 5. Copy: stdin up (EOF half-closes), output down until the server
	// closes the stream.
	if s.stdin {
		go copyStdin(h, stream, h.streams.In)
	}
	copyErr := stream.Copy(h.streams.Out, h.streams.Err)
	restore()
	restore = func() {}
	var sysErr *stdcopy.SystemError
	if errors.As(copyErr, &sysErr) {
		// hyperd could not keep the stream going: the pod may live on.
		return 0, sysErr
	}
	if copyErr != nil && ctx.Err() == nil {
		return 0, fmt.Errorf("reading output: %w", copyErr)
	}

	// 6. The exit status is the wait's (or the container's).
	if s.ctrExit {
		return containerExit(ctx, c, s.pod, s.container)
	}
	r := <-waited
	if r.err != nil {
		return 0, r.err
	}
	return r.res.ExitCode, nil
}

// proxySignals forwards hyperctl's signals to the pod until stopped.
func (h *cli) proxySignals(ctx context.Context, c *client.Client, pod string) func() {
	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, proxiedSignals...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigc:
				n := int(sig.(syscall.Signal))
				kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if err := c.KillPod(kctx, pod, signals.Name(n)); err != nil {
					h.log.Debug("forwarding signal", "signal", sig, "err", err)
				}
				cancel()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		close(done)
	}
}

// notify calls fn on each sig until stopped.
func notify(sig os.Signal, fn func()) func() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, sig)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-c:
				fn()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(c)
		close(done)
	}
}
