package api_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/events"
)

func TestEventsEndpoint(t *testing.T) {
	f := &fake{}
	bus := events.New(16)
	b := f.backend()
	b.Events = bus
	sock := apitest.Serve(t, b, slog.New(slog.NewTextHandler(newTestWriter(t), nil)))
	c := client.New(sock)
	t.Cleanup(func() { c.Close() })

	bus.Publish(types.Event{Type: "container", Action: "create", Actor: types.EventActor{ID: "a", Attributes: map[string]string{"name": "web"}}})
	bus.Publish(types.Event{Type: "image", Action: "load", Actor: types.EventActor{ID: "sha256:1", Attributes: map[string]string{"name": "busybox:latest"}}})

	// Replay, filtered, ended by until.
	var got []types.Event
	err := c.Events(ctxT(t), client.EventOptions{Since: "1m", Until: "0s", Filters: map[string][]string{"type": {"container"}}},
		func(e types.Event) error { got = append(got, e); return nil })
	if err != nil || len(got) != 1 || got[0].Action != "create" || got[0].Scope != "local" || got[0].Actor.Attributes["name"] != "web" {
		t.Fatalf("replay: %+v, %v", got, err)
	}

	// Live: the stream is on before any event; closing the bus ends it.
	live := make(chan types.Event, 4)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	go func() {
		done <- c.Events(ctx, client.EventOptions{}, func(e types.Event) error { live <- e; return nil })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(live) == 0 && time.Now().Before(deadline) {
		bus.Publish(types.Event{Type: "volume", Action: "create", Actor: types.EventActor{ID: "v"}})
		time.Sleep(20 * time.Millisecond)
	}
	if e := <-live; e.Type != "volume" {
		t.Fatalf("live: %+v", e)
	}
	bus.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream after close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the bus closed")
	}

	// Bad input is a 400 with a JSON error.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	e := &env{f: f, c: c, sock: sock, http: hc}
	for _, q := range []string{"since=yesterday", "until=x", "filters=%7B", "filters=colour%3Dred"} {
		if code, msg := e.raw(t, http.MethodGet, "/v1/events?"+q, "", ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, code, msg)
		}
	}
}
