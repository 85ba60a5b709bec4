// Package events is hyperd's in-memory event log: what happens to pods,
// images and volumes, numbered in order, for `hyperctl events` (GET
// /v1/events). A bounded ring keeps the recent past, so that a reader may
// start from a time (--since); any number of readers each read from
// their own cursor. Publishing never blocks and costs the same with any
// number of readers, slow or not: a reader that falls more than the ring
// behind gets one daemon events-lost event with the count, and goes on
// from the oldest event kept. Nothing is persisted: the log starts empty
// with each hyperd.
package events

import (
	"context"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// DefaultSize is how many events a Bus keeps by default.
const DefaultSize = 4096

// Bus is the event log. Its zero value is not usable: see New.
type Bus struct {
	now func() time.Time

	mu   sync.Mutex
	ring []types.Event // event seq is at ring[seq%len(ring)]
	next uint64        // seq of the next event
	// wake is closed (and replaced) by each Publish and by Close: readers
	// waiting for an event wait on it.
	wake   chan struct{}
	closed bool
}

// New returns a bus that keeps the last size events (DefaultSize if size
// <= 0).
func New(size int) *Bus {
	if size <= 0 {
		size = DefaultSize
	}
	return &Bus{now: time.Now, ring: make([]types.Event, size), wake: make(chan struct{})}
}

// Publish adds e to the log: its Time and TimeNano are set (to now) if
// zero, its Scope to local. It never blocks on readers. e's Attributes
// must not be changed after.
func (b *Bus) Publish(e types.Event) {
	e.Scope = "local"
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if e.TimeNano == 0 {
		// Stamped under the lock: sequence order is time order (Since
		// searches by time).
		t := b.now()
		e.Time, e.TimeNano = t.Unix(), t.UnixNano()
	}
	b.ring[b.next%uint64(len(b.ring))] = e
	b.next++
	close(b.wake)
	b.wake = make(chan struct{})
}

// Close ends every reader's stream (Next returns io.EOF once it has read
// what was published before); later events are dropped.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.wake)
	}
}

// oldest is the seq of the oldest event kept. Called with mu held.
func (b *Bus) oldest() uint64 {
	return b.next - min(b.next, uint64(len(b.ring)))
}

// Subscribe returns a reader of the events from since on: those kept that
// happened at or after since, then new ones. since zero: new ones only.
func (b *Bus) Subscribe(since time.Time) *Reader {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &Reader{b: b, cursor: b.next}
	if since.IsZero() {
		return r
	}
	oldest, ns := b.oldest(), since.UnixNano()
	n := int(b.next - oldest)
	i := sort.Search(n, func(i int) bool {
		return b.ring[(oldest+uint64(i))%uint64(len(b.ring))].TimeNano >= ns
	})
	r.cursor = oldest + uint64(i)
	return r
}

// Reader reads the log from its own cursor. One goroutine uses it.
type Reader struct {
	b      *Bus
	cursor uint64
}

// Next returns the next event, waiting for one if need be, until ctx
// ends (its error) or the bus is closed (io.EOF). A reader that fell
// more than the ring behind gets a daemon events-lost event first.
func (r *Reader) Next(ctx context.Context) (types.Event, error) {
	b := r.b
	for {
		b.mu.Lock()
		if oldest := b.oldest(); r.cursor < oldest {
			lost := oldest - r.cursor
			r.cursor = oldest
			t := b.now()
			b.mu.Unlock()
			return LostEvent(lost, t), nil
		}
		if r.cursor < b.next {
			e := b.ring[r.cursor%uint64(len(b.ring))]
			r.cursor++
			b.mu.Unlock()
			return e, nil
		}
		if b.closed {
			b.mu.Unlock()
			return types.Event{}, io.EOF
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return types.Event{}, ctx.Err()
		}
	}
}

// LostEvent is the event a reader gets when it missed n events.
func LostEvent(n uint64, t time.Time) types.Event {
	return types.Event{Type: types.EventDaemon, Action: types.ActionEventsLost, Scope: "local",
		Actor: types.EventActor{ID: "hyperd", Attributes: map[string]string{"count": strconv.FormatUint(n, 10)}},
		Time:  t.Unix(), TimeNano: t.UnixNano()}
}

// Options select a stream of events.
type Options struct {
	// Since: kept events from then on too (zero: new ones only).
	Since time.Time
	// Until ends the stream once it is reached (zero: never), at once
	// after the replay when it is past.
	Until  time.Time
	Filter Filter
}

// Stream calls fn with each event o selects, in order, until o.Until,
// ctx's end or the bus's close (each a nil error), or fn's error.
func (b *Bus) Stream(ctx context.Context, o Options, fn func(types.Event) error) error {
	r := b.Subscribe(o.Since)
	if !o.Until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.Until)
		defer cancel()
	}
	until := o.Until.UnixNano()
	for {
		e, err := r.Next(ctx)
		if err != nil {
			return nil // the client went, Until came, or hyperd stops
		}
		if !o.Until.IsZero() && e.TimeNano > until {
			return nil
		}
		if !o.Filter.Match(e) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}
