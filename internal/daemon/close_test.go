package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/store"
)

// closable is a daemon with just what Close touches.
func closable(t *testing.T) *Daemon {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "hyperd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Daemon{db: db, log: slog.New(slog.DiscardHandler), pods: map[string]*pod{}, leaving: map[string]*pod{}}
}

// closeWithin calls Close with a deadline of d and fails the test if it
// does not return soon after.
func closeWithin(t *testing.T, d *Daemon, within time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	start := time.Now()
	err := d.Close(ctx)
	if took := time.Since(start); took > within+time.Second {
		t.Errorf("Close took %v with a deadline of %v", took, within)
	}
	return err
}

func TestCloseBounded(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		d := closable(t)
		if err := closeWithin(t, d, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := d.db.Put("x", "k", 1); err == nil {
			t.Error("the database is still open after Close")
		}
	})
	t.Run("wedged lock", func(t *testing.T) {
		d := closable(t)
		d.mu.Lock()
		defer d.mu.Unlock()
		err := closeWithin(t, d, 200*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "the daemon's lock") {
			t.Fatalf("Close = %v, want it waiting for the lock", err)
		}
	})
	t.Run("prewarm still running", func(t *testing.T) {
		d := closable(t)
		d.prewarmed = make(chan struct{}) // a template build that does not end
		err := closeWithin(t, d, 200*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "prewarm") {
			t.Fatalf("Close = %v, want it waiting for the prewarm", err)
		}
		// What may still write finds the database open.
		if err := d.db.Put("x", "k", 1); err != nil {
			t.Errorf("the database was closed under a running step: %v", err)
		}
	})
}
