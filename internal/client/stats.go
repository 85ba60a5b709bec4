package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/hyperhq/hyper/internal/api/types"
)

// Stats is GET /v1/pods/{id}/stats?stream=false: one reading of a
// running pod.
func (c *Client) Stats(ctx context.Context, id string) (types.PodStats, error) {
	var v types.PodStats
	err := c.call(ctx, http.MethodGet, path("pods", id, "stats"), url.Values{"stream": {"false"}}, nil, &v)
	return v, err
}

// StreamStats is GET /v1/pods/{id}/stats: fn gets a reading every
// second until it returns an error, ctx ends, or the pod stops running
// (nil then).
func (c *Client) StreamStats(ctx context.Context, id string, fn func(types.PodStats) error) error {
	resp, err := c.do(ctx, http.MethodGet, path("pods", id, "stats"), url.Values{"stream": {"true"}}, nil, "")
	if err != nil {
		return err
	}
	return readStream(ctx, resp, "the stats of "+id, fn)
}

// PausePod is POST /v1/pods/{id}/pause.
func (c *Client) PausePod(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, path("pods", id, "pause"), nil, nil, nil)
}

// UnpausePod is POST /v1/pods/{id}/unpause.
func (c *Client) UnpausePod(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, path("pods", id, "unpause"), nil, nil, nil)
}

// Top is GET /v1/pods/{id}/top: the processes of container ("": the
// first).
func (c *Client) Top(ctx context.Context, id, container string) (types.TopResponse, error) {
	var v types.TopResponse
	var q url.Values
	if container != "" {
		q = url.Values{"container": {container}}
	}
	err := c.call(ctx, http.MethodGet, path("pods", id, "top"), q, nil, &v)
	return v, err
}
