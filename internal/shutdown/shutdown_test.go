package shutdown

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuf is a bytes.Buffer safe for the watchdog's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestWatchdogExits(t *testing.T) {
	var logs, stacks syncBuf
	exited := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	w := watch(ctx, 50*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)), &stacks, func(code int) { exited <- code })
	defer w.Stop()
	w.Step("closing the daemon")
	select {
	case <-exited:
		t.Fatal("the watchdog fired before its context ended")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	select {
	case code := <-exited:
		if code != ExitCode {
			t.Errorf("exit code %d, want %d", code, ExitCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	if !strings.Contains(logs.String(), `step="closing the daemon"`) {
		t.Errorf("log does not name the step: %s", logs.String())
	}
	if !strings.Contains(stacks.String(), "TestWatchdogExits") {
		t.Errorf("no goroutine stacks: %s", stacks.String())
	}
}

func TestWatchdogStopped(t *testing.T) {
	exited := make(chan int, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := watch(ctx, 50*time.Millisecond, slog.New(slog.DiscardHandler), &syncBuf{}, func(code int) { exited <- code })
	w.Stop()
	w.Stop()
	select {
	case <-exited:
		t.Fatal("a stopped watchdog fired")
	case <-time.After(200 * time.Millisecond):
	}
}

// Run gives close a deadline and returns both steps' errors.
func TestRunBoundsClose(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errServe := errors.New("serve")
	start := time.Now()
	err := Run(ctx, slog.New(slog.DiscardHandler), func(ctx context.Context) error {
		<-ctx.Done()
		return errServe
	}, func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("close has no deadline")
		}
		return nil
	})
	if !errors.Is(err, errServe) {
		t.Errorf("Run = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v", d)
	}
}
