package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

func TestWriteEventLine(t *testing.T) {
	ts := time.Date(2026, 12, 3, 19, 30, 0, 5, time.UTC)
	var b strings.Builder
	e := types.Event{Type: "container", Action: "die", TimeNano: ts.UnixNano(), Time: ts.Unix(),
		Actor: types.EventActor{ID: "3f2a", Attributes: map[string]string{"name": "web", "image": "busybox", "exitCode": "0"}}}
	if err := writeEventLine(&b, e); err != nil {
		t.Fatal(err)
	}
	want := "2026-12-03T19:30:00.000000005Z container die 3f2a (exitCode=0, image=busybox, name=web)\n"
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	writeEventLine(&b, types.Event{Type: "volume", Action: "create", TimeNano: ts.UnixNano(), Actor: types.EventActor{ID: "data"}})
	if b.String() != "2026-12-03T19:30:00.000000005Z volume create data\n" {
		t.Fatalf("no attributes: %q", b.String())
	}
}
