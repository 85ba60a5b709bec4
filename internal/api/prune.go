package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// PodPruner is an optional ability of Backend.Pods: removing every pod
// that does not run (system prune).
type PodPruner interface {
	PrunePods(ctx context.Context) (types.PodPruneResponse, error)
}

// prunePods serves POST /v1/pods/prune.
func (s *server) prunePods(w http.ResponseWriter, r *http.Request) {
	p, ok := s.b.Pods.(PodPruner)
	if !ok {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot prune pods"))
		return
	}
	res, err := p.PrunePods(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
