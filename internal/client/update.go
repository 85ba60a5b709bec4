package client

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
)

// UpdatePod is POST /v1/pods/{id}/update.
func (c *Client) UpdatePod(ctx context.Context, id string, req types.UpdateRequest) error {
	return c.call(ctx, http.MethodPost, path("pods", id, "update"), nil, req, nil)
}
