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
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var ev types.PullEvent
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return types.Image{}, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return types.Image{}, fmt.Errorf("reading hyperd's pull progress: %w", err)
		}
		switch {
		case ev.Error != "":
			code := ev.ErrorCode
			if code == 0 {
				code = http.StatusInternalServerError
			}
			return types.Image{}, &Error{StatusCode: code, Message: ev.Error}
		case ev.Image != nil:
			return *ev.Image, nil
		case progress != nil:
			progress(ev)
		}
	}
}
