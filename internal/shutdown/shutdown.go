// Package shutdown bounds how long hyperd takes to stop once it is told to
// (SIGTERM): the API stops first (api.Serve: a grace for the requests in
// flight, then their connections are closed), then the daemon closes with
// a deadline (daemon.Close); and should either still overrun, a watchdog
// ends the process at Limit, logging the step it was in and every
// goroutine's stack. Pods keep running in their VMs whatever happens: the
// next hyperd re-attaches them.
package shutdown

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// Limit is the longest a stop may take, from the end of the serving
// context to the process's exit.
const Limit = 10 * time.Second

// CloseTimeout bounds the close step.
const CloseTimeout = 5 * time.Second

// ExitCode is the process's status when the watchdog ends it.
const ExitCode = 2

// Run calls serve until it returns (it should once ctx ends), then close
// with CloseTimeout, and returns their errors. Once ctx has ended, the
// process exits with ExitCode if Run has not returned within Limit.
func Run(ctx context.Context, log *slog.Logger, serve, close func(context.Context) error) error {
	w := Watch(ctx, Limit, log)
	defer w.Stop()
	w.Step("stopping the API")
	err := serve(ctx)
	w.Step("closing the daemon")
	cctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	return errors.Join(err, close(cctx))
}

// A Watchdog ends the process if it is not stopped within its limit of
// its context's end.
type Watchdog struct {
	mu   sync.Mutex
	step string
	stop chan struct{}
	once sync.Once
}

// Watch starts a watchdog: once ctx ends, the process has limit to call
// Stop, or it exits with ExitCode after logging the current step (see
// Step) and writing every goroutine's stack to stderr.
func Watch(ctx context.Context, limit time.Duration, log *slog.Logger) *Watchdog {
	return watch(ctx, limit, log, os.Stderr, os.Exit)
}

// watch is Watch writing the stacks to stacks and exiting with exit.
func watch(ctx context.Context, limit time.Duration, log *slog.Logger, stacks io.Writer, exit func(int)) *Watchdog {
	w := &Watchdog{stop: make(chan struct{})}
	go func() {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-w.stop:
		case <-t.C:
			w.mu.Lock()
			step := w.step
			w.mu.Unlock()
			log.Error("shutdown overran its limit: exiting now; pods keep running", "limit", limit, "step", step)
			_ = pprof.Lookup("goroutine").WriteTo(stacks, 2)
			exit(ExitCode)
		}
	}()
	return w
}

// Step records what the shutdown is doing, for the watchdog's log.
func (w *Watchdog) Step(what string) {
	w.mu.Lock()
	w.step = what
	w.mu.Unlock()
}

// Stop disarms the watchdog.
func (w *Watchdog) Stop() { w.once.Do(func() { close(w.stop) }) }
