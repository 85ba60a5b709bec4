package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func ev(action, id string) types.Event {
	return types.Event{Type: types.EventContainer, Action: action, Actor: types.EventActor{ID: id, Attributes: map[string]string{"name": "n" + id}}}
}

// fakeClock is a bus clock that moves by a second at each read.
func fakeClock(b *Bus, start time.Time) {
	var mu sync.Mutex
	t := start
	b.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func next(t *testing.T, r *Reader) types.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := r.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return e
}

func TestOrderAndNewOnly(t *testing.T) {
	b := New(8)
	b.Publish(ev("create", "before"))
	r := b.Subscribe(time.Time{})
	for i := range 5 {
		b.Publish(ev("start", strconv.Itoa(i)))
	}
	for i := range 5 {
		e := next(t, r)
		if e.Actor.ID != strconv.Itoa(i) || e.Scope != "local" || e.TimeNano == 0 || e.Time != e.TimeNano/1e9 {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

func TestSinceUntil(t *testing.T) {
	b := New(16)
	t0 := time.Unix(1_700_000_000, 0)
	fakeClock(b, t0) // event i at t0+i+1 s
	for i := range 10 {
		b.Publish(ev("start", strconv.Itoa(i)))
	}
	var got []string
	err := b.Stream(context.Background(), Options{Since: t0.Add(4 * time.Second), Until: t0.Add(7 * time.Second)}, func(e types.Event) error {
		got = append(got, e.Actor.ID)
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[3 4 5 6]" {
		t.Fatalf("since/until: %v %v", got, err)
	}
}

func TestUntilInFutureEnds(t *testing.T) {
	b := New(4)
	start := time.Now()
	err := b.Stream(context.Background(), Options{Until: time.Now().Add(200 * time.Millisecond)}, func(types.Event) error { return nil })
	if err != nil || time.Since(start) < 150*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Fatalf("until: %v after %v", err, time.Since(start))
	}
}

func TestSinceBeforeRingKeepsWhatIsKept(t *testing.T) {
	b := New(4)
	for i := range 10 {
		b.Publish(ev("start", strconv.Itoa(i)))
	}
	r := b.Subscribe(time.Unix(1, 0))
	if e := next(t, r); e.Actor.ID != "6" { // no loss marker: it did not fall behind
		t.Fatalf("first kept: %+v", e)
	}
}

func TestSlowReaderGetsLostMarker(t *testing.T) {
	b := New(4)
	slow := b.Subscribe(time.Time{})
	fast := b.Subscribe(time.Time{})
	for i := range 10 {
		b.Publish(ev("start", strconv.Itoa(i)))
		if e := next(t, fast); e.Actor.ID != strconv.Itoa(i) {
			t.Fatalf("fast reader: %+v", e)
		}
	}
	e := next(t, slow)
	if e.Type != types.EventDaemon || e.Action != types.ActionEventsLost || e.Actor.Attributes["count"] != "6" {
		t.Fatalf("lost marker: %+v", e)
	}
	for i := 6; i < 10; i++ {
		if e := next(t, slow); e.Actor.ID != strconv.Itoa(i) {
			t.Fatalf("after the marker: %+v", e)
		}
	}
}

func TestCloseEndsReaders(t *testing.T) {
	b := New(4)
	r := b.Subscribe(time.Time{})
	b.Publish(ev("start", "a"))
	done := make(chan error, 1)
	go func() {
		done <- b.Stream(context.Background(), Options{}, func(types.Event) error { return nil })
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	if err := <-done; err != nil {
		t.Fatalf("stream after close: %v", err)
	}
	if e := next(t, r); e.Actor.ID != "a" {
		t.Fatalf("kept event: %+v", e)
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v", err)
	}
	b.Publish(ev("start", "late")) // no panic, dropped
}

func TestContextEndsNext(t *testing.T) {
	b := New(4)
	r := b.Subscribe(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
}

// TestManyPublishersAndReaders: with -race; every reader sees every
// publisher's events in that publisher's order, and the bus's order is
// the same for all.
func TestManyPublishersAndReaders(t *testing.T) {
	const pubs, per, readers = 8, 500, 6
	b := New(pubs * per)
	var rs []*Reader
	for range readers {
		rs = append(rs, b.Subscribe(time.Time{}))
	}
	// A reader that never reads must not slow anyone.
	b.Subscribe(time.Time{})
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for i := range per {
				b.Publish(ev("start", fmt.Sprintf("%d/%d", p, i)))
			}
		})
	}
	seqs := make([][]string, readers)
	var rg sync.WaitGroup
	for i, r := range rs {
		rg.Go(func() {
			last := map[int]int{}
			for range pubs * per {
				e := next(t, r)
				var p, n int
				fmt.Sscanf(e.Actor.ID, "%d/%d", &p, &n)
				if prev, ok := last[p]; ok && n != prev+1 {
					t.Errorf("reader %d: publisher %d: %d after %d", i, p, n, prev)
					return
				}
				last[p] = n
				seqs[i] = append(seqs[i], e.Actor.ID)
			}
		})
	}
	wg.Wait()
	rg.Wait()
	for i := 1; i < readers; i++ {
		if fmt.Sprint(seqs[i]) != fmt.Sprint(seqs[0]) {
			t.Fatalf("reader %d saw another order", i)
		}
	}
}

// TestPublishCostIndependentOfReaders: publishing with a thousand idle
// readers takes about as long as with none.
func TestPublishCostIndependentOfReaders(t *testing.T) {
	measure := func(readers int) time.Duration {
		b := New(1024)
		for range readers {
			b.Subscribe(time.Time{}) // never read
		}
		start := time.Now()
		for i := range 20000 {
			b.Publish(ev("start", strconv.Itoa(i)))
		}
		return time.Since(start)
	}
	base, many := measure(0), measure(1000)
	if many > 5*base+50*time.Millisecond {
		t.Fatalf("publishing slowed with idle readers: %v vs %v", many, base)
	}
}

func TestFilter(t *testing.T) {
	die := types.Event{Type: "container", Action: "die", Actor: types.EventActor{ID: "3f2a9c0d11",
		Attributes: map[string]string{"name": "web", "image": "busybox:latest", "exitCode": "0", "app": "x"}}}
	img := types.Event{Type: "image", Action: "load", Actor: types.EventActor{ID: "sha256:abcdef0123", Attributes: map[string]string{"name": "busybox:latest"}}}
	vol := types.Event{Type: "volume", Action: "create", Actor: types.EventActor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	lost := LostEvent(3, time.Now())
	for _, c := range []struct {
		json  string
		items []string
		want  [4]bool // die, img, vol, lost
	}{
		{"", nil, [4]bool{true, true, true, true}},
		{`{"type":["container"]}`, nil, [4]bool{true, false, false, true}},
		{`{"type":{"image":true}}`, nil, [4]bool{false, true, false, true}},
		{"", []string{"event=die", "event=start"}, [4]bool{true, false, false, true}},
		{"", []string{"pod=web"}, [4]bool{true, false, false, true}},
		{"", []string{"container=3f2a"}, [4]bool{true, false, false, true}},
		{"", []string{"container=other"}, [4]bool{false, false, false, true}},
		{"", []string{"image=busybox"}, [4]bool{true, true, false, true}},
		{"", []string{"image=abcdef"}, [4]bool{false, true, false, true}},
		{"", []string{"label=app=x"}, [4]bool{true, false, false, true}},
		{"", []string{"label=app"}, [4]bool{true, false, false, true}},
		{"", []string{"label=app=y"}, [4]bool{false, false, false, true}},
		{"", []string{"volume=data"}, [4]bool{false, false, true, true}},
		{`{"type":["container"]}`, []string{"event=die"}, [4]bool{true, false, false, true}},
		{`{"type":["container"]}`, []string{"event=load"}, [4]bool{false, false, false, true}},
	} {
		f, err := ParseFilter(c.json, c.items)
		if err != nil {
			t.Fatalf("%s %v: %v", c.json, c.items, err)
		}
		got := [4]bool{f.Match(die), f.Match(img), f.Match(vol), f.Match(lost)}
		if got != c.want {
			t.Errorf("%s %v: got %v, want %v", c.json, c.items, got, c.want)
		}
	}
	for _, bad := range []struct {
		json  string
		items []string
	}{{"{", nil}, {"", []string{"nokey"}}, {"", []string{"colour=red"}}, {"", []string{"type=network"}}} {
		if _, err := ParseFilter(bad.json, bad.items); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q %v: %v", bad.json, bad.items, err)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 3, 19, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                            {},
		"10m":                         now.Add(-10 * time.Minute),
		"1700000000":                  time.Unix(1700000000, 0),
		"1700000000.25":               time.Unix(1700000000, 250_000_000),
		"2026-12-03T19:00:00Z":        time.Date(2026, 12, 3, 19, 0, 0, 0, time.UTC),
		"2026-12-03T19:00:00.5+01:00": time.Date(2026, 12, 3, 18, 0, 0, 500_000_000, time.UTC),
		"2026-12-03":                  time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "1.2.3", "99999999999999999999", "12x"} {
		if _, err := ParseTime(bad, now); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseTime(%q): %v", bad, err)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{`{"type":["container"]}`, `{"type":{"image":true}}`, `{"label":["a=b"]}`, `[]`, `{`} {
		f.Add(s, "event=die")
	}
	f.Fuzz(func(t *testing.T, js, item string) {
		flt, err := ParseFilter(js, []string{item})
		if err == nil {
			flt.Match(ev("die", "abc"))
		}
	})
}
