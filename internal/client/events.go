package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hyperhq/hyper/internal/api/types"
)

// EventOptions select the events of Events.
type EventOptions struct {
	// Since and Until take docker's forms (RFC3339, Unix seconds, a
	// duration before now such as 10m), read by hyperd; "" is none.
	Since, Until string
	// Filters are docker's: type, event, container (or pod), image,
	// label, volume, each key's values alternatives.
	Filters map[string][]string
}

// Events is GET /v1/events: it calls fn with each event until the stream
// ends (Until came, hyperd stopped: nil), ctx ends, or fn fails.
func (c *Client) Events(ctx context.Context, o EventOptions, fn func(types.Event) error) error {
	q := url.Values{}
	if o.Since != "" {
		q.Set("since", o.Since)
	}
	if o.Until != "" {
		q.Set("until", o.Until)
	}
	if len(o.Filters) > 0 {
		b, err := json.Marshal(o.Filters)
		if err != nil {
			return err
		}
		q.Set("filters", string(b))
	}
	resp, err := c.do(ctx, http.MethodGet, path("events"), q, nil, "")
	if err != nil {
		return err
	}
	return readStream(ctx, resp, "events", fn)
}

// readStream calls fn with each JSON value of resp's newline-delimited
// stream until it ends (its Hyper-Error trailer, if any), ctx ends, or
// fn fails; what names the stream in errors. It closes resp's body.
func readStream[T any](ctx context.Context, resp *http.Response, what string, fn func(T) error) error {
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var v T
		if err := dec.Decode(&v); err != nil {
			if err == io.EOF {
				return trailerError(resp)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("reading %s: %w", what, unexpectedEOF(err))
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}
