package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/events"
)

// Events is the daemon's event log (events.Bus).
type Events interface {
	// Stream calls fn with each event o selects until o.Until, ctx's
	// end, or the log's close.
	Stream(ctx context.Context, o events.Options, fn func(types.Event) error) error
}

// events streams the event log as newline-delimited JSON, one flush per
// event: GET /v1/events?since=&until=&filters=.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if s.b.Events == nil {
		writeJSON(w, http.StatusNotFound, types.Error{Message: "this hyperd has no event log"})
		return
	}
	o, err := eventOptions(r, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sw := &lazyStream{w: w, contentType: "application/x-ndjson"}
	sw.flush() // the client knows the stream is on before any event
	enc := json.NewEncoder(sw)
	err = s.b.Events.Stream(r.Context(), o, func(e types.Event) error {
		if err := enc.Encode(e); err != nil {
			return err
		}
		sw.flush()
		return nil
	})
	sw.finish(s, r, err)
}

// eventOptions reads since, until (docker's forms, relative to now) and
// filters (docker's JSON, or repeated key=value items).
func eventOptions(r *http.Request, now time.Time) (events.Options, error) {
	q := r.URL.Query()
	var o events.Options
	var err error
	if o.Since, err = events.ParseTime(q.Get("since"), now); err != nil {
		return o, err
	}
	if o.Until, err = events.ParseTime(q.Get("until"), now); err != nil {
		return o, err
	}
	var js string
	var items []string
	for _, v := range q["filters"] {
		if strings.HasPrefix(strings.TrimSpace(v), "{") {
			js = v
		} else {
			items = append(items, v)
		}
	}
	o.Filter, err = events.ParseFilter(js, items)
	return o, err
}
