package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hyperhq/hyper/internal/api/types"
)

// PullImage is POST /v1/images/pull: it pulls ref (for platform
// "os/arch[/variant]", "" for hyperd's host) and calls progress (if not
// nil) for every progress event. A failure reported in the stream is an
// *Error with the status the error would have had.
func (c *Client) PullImage(ctx context.Context, ref, platform string, progress func(types.PullEvent)) (types.Image, error) {
	q := url.Values{"ref": {ref}}
	if platform != "" {
		q.Set("platform", platform)
	}
	resp, err := c.do(ctx, http.MethodPost, path("images", "pull"), q, nil, "")
	if err != nil {
		return types.Image{}, err
	}
	defer resp.Body.Close()
	ev, err := readEvents(ctx, resp.Body, "pull", func(ev types.PullEvent) (string, int, bool) {
		return ev.Error, ev.ErrorCode, ev.Image != nil
	}, progress)
	if err != nil {
		return types.Image{}, err
	}
	return *ev.Image, nil
}

// readEvents reads a stream of NDJSON progress events until one is final
// (outcome says so, or carries an error), calling progress for the others.
func readEvents[E any](ctx context.Context, body io.Reader, what string, outcome func(E) (errMsg string, errCode int, final bool), progress func(E)) (E, error) {
	var zero E
	dec := json.NewDecoder(bufio.NewReader(body))
	for {
		var ev E
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return zero, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return zero, fmt.Errorf("reading hyperd's %s progress: %w", what, err)
		}
		msg, code, final := outcome(ev)
		switch {
		case msg != "":
			if code == 0 {
				code = http.StatusInternalServerError
			}
			return zero, &Error{StatusCode: code, Message: msg}
		case final:
			return ev, nil
		case progress != nil:
			progress(ev)
		}
	}
}
