package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// ContainerResolver is an optional ability of Backend.Containers: it says
// which pod and container a reference names (docker's per-container
// commands: a pod, POD/CONTAINER, or a container name unique across pods;
// container is -c's name or "").
type ContainerResolver interface {
	ResolveContainer(ctx context.Context, ref, container string) (types.ContainerRef, error)
}

// resolveContainer serves GET /v1/containers/{ref}[?container=NAME].
func (s *server) resolveContainer(w http.ResponseWriter, r *http.Request) {
	res, ok := s.b.Containers.(ContainerResolver)
	if !ok {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot resolve container names"))
		return
	}
	ref, err := res.ResolveContainer(r.Context(), r.PathValue("ref"), r.URL.Query().Get("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ref)
}
