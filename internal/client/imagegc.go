package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hyperhq/hyper/internal/api/types"
)

// RemoveImageReport is DELETE /v1/images/{ref}, returning what hyperd
// untagged and deleted (empty from a hyperd that does not say).
func (c *Client) RemoveImageReport(ctx context.Context, ref string, force bool) (types.ImageDeleteResponse, error) {
	var v types.ImageDeleteResponse
	resp, err := c.do(ctx, http.MethodDelete, path(append([]string{"images"}, strings.Split(ref, "/")...)...), flag("force", force), nil, "")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return v, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		return v, fmt.Errorf("decoding hyperd's answer to DELETE image %s: %w", ref, err)
	}
	return v, nil
}

// TagImage is POST /v1/images/tag: target names the image source is.
func (c *Client) TagImage(ctx context.Context, source, target string) error {
	return c.call(ctx, http.MethodPost, path("images", "tag"), url.Values{"source": {source}, "target": {target}}, nil, nil)
}

// PruneImages is POST /v1/images/prune: it deletes the dangling images no
// pod uses, or (all) every image no pod uses.
func (c *Client) PruneImages(ctx context.Context, all bool) (types.ImagePruneResponse, error) {
	var v types.ImagePruneResponse
	err := c.call(ctx, http.MethodPost, path("images", "prune"), flag("all", all), nil, &v)
	return v, err
}

// DiskUsage is GET /v1/system/df.
func (c *Client) DiskUsage(ctx context.Context) (types.DiskUsage, error) {
	var v types.DiskUsage
	err := c.call(ctx, http.MethodGet, path("system", "df"), nil, nil, &v)
	return v, err
}

// PushImage is POST /v1/images/push: it pushes ref to its registry and
// calls progress (if not nil) for every progress event. The result has
// Name, Digest and Size; a failure in the stream is an *Error.
func (c *Client) PushImage(ctx context.Context, ref string, progress func(types.PushEvent)) (types.PushEvent, error) {
	resp, err := c.do(ctx, http.MethodPost, path("images", "push"), url.Values{"ref": {ref}}, nil, "")
	if err != nil {
		return types.PushEvent{}, err
	}
	defer resp.Body.Close()
	return readEvents(ctx, resp.Body, "push", func(ev types.PushEvent) (string, int, bool) {
		return ev.Error, ev.ErrorCode, ev.Digest != ""
	}, progress)
}
