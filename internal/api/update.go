package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Updater changes the limits of pods' containers: an optional ability of
// Resources.
type Updater interface {
	// Update sets the limits req gives of a pod's containers (InvalidArgument
	// beyond its VM's size, Conflict if it is paused).
	Update(ctx context.Context, id string, req types.UpdateRequest) error
}

func (s *server) updatePod(w http.ResponseWriter, r *http.Request) {
	u, ok := s.b.Resources.(Updater)
	if !ok {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot update pods"))
		return
	}
	var req types.UpdateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.noContent(w, r, u.Update(r.Context(), r.PathValue("id"), req))
}
