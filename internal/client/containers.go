package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/hyperhq/hyper/internal/api/types"
)

// AddContainer is POST /v1/pods/{id}/containers: the container joins the
// pod (and starts, if the pod runs); the answer's ID is its name.
func (c *Client) AddContainer(ctx context.Context, pod string, spec types.ContainerSpec) (types.CreateResponse, error) {
	var v types.CreateResponse
	err := c.call(ctx, http.MethodPost, path("pods", pod, "containers"), nil, spec, &v)
	return v, err
}

// RemoveContainer is DELETE /v1/pods/{id}/containers/{name}; force kills
// a running container first.
func (c *Client) RemoveContainer(ctx context.Context, pod, name string, force bool) error {
	return c.call(ctx, http.MethodDelete, path("pods", pod, "containers", name), flag("force", force), nil, nil)
}

// ResolveContainer is GET /v1/containers/{ref}: the pod and container ref
// names (a pod, POD/CONTAINER, or a container name unique across pods);
// container is -c's name, or "".
func (c *Client) ResolveContainer(ctx context.Context, ref, container string) (types.ContainerRef, error) {
	var q url.Values
	if container != "" {
		q = url.Values{"container": {container}}
	}
	var v types.ContainerRef
	err := c.call(ctx, http.MethodGet, path("containers", ref), q, nil, &v)
	return v, err
}

// PrunePods is POST /v1/pods/prune: every pod that does not run is
// removed.
func (c *Client) PrunePods(ctx context.Context) (types.PodPruneResponse, error) {
	var v types.PodPruneResponse
	err := c.call(ctx, http.MethodPost, path("pods", "prune"), nil, nil, &v)
	return v, err
}
