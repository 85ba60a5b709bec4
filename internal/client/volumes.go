package client

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
)

// CreateVolume is POST /v1/volumes.
func (c *Client) CreateVolume(ctx context.Context, req types.VolumeCreateRequest) (types.VolumeInfo, error) {
	var v types.VolumeInfo
	err := c.call(ctx, http.MethodPost, path("volumes"), nil, req, &v)
	return v, err
}

// ListVolumes is GET /v1/volumes.
func (c *Client) ListVolumes(ctx context.Context) ([]types.VolumeInfo, error) {
	var v []types.VolumeInfo
	err := c.call(ctx, http.MethodGet, path("volumes"), nil, nil, &v)
	return v, err
}

// InspectVolume is GET /v1/volumes/{name}.
func (c *Client) InspectVolume(ctx context.Context, name string) (types.VolumeInfo, error) {
	var v types.VolumeInfo
	err := c.call(ctx, http.MethodGet, path("volumes", name), nil, nil, &v)
	return v, err
}

// RemoveVolume is DELETE /v1/volumes/{name}.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, path("volumes", name), nil, nil, nil)
}
