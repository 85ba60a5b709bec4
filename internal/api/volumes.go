package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Volumes are the named volumes hyperd manages. Names are
// [a-zA-Z0-9][a-zA-Z0-9_.-]*; a volume used by a pod is not removed
// (Conflict).
type Volumes interface {
	CreateVolume(ctx context.Context, req types.VolumeCreateRequest) (types.VolumeInfo, error)
	ListVolumes(ctx context.Context) ([]types.VolumeInfo, error)
	InspectVolume(ctx context.Context, name string) (types.VolumeInfo, error)
	RemoveVolume(ctx context.Context, name string) error
}

func (s *server) routeVolumes(mux *http.ServeMux, v string) {
	mux.HandleFunc("POST "+v+"/volumes", s.createVolume)
	mux.HandleFunc("GET "+v+"/volumes", s.listVolumes)
	mux.HandleFunc("GET "+v+"/volumes/{name}", s.inspectVolume)
	mux.HandleFunc("DELETE "+v+"/volumes/{name}", s.removeVolume)
}

// volumes is the backend's Volumes, or a 404 answered.
func (s *server) volumes(w http.ResponseWriter, r *http.Request) (Volumes, bool) {
	if s.b.Volumes == nil {
		s.writeError(w, r, errdefs.NotFound("this daemon has no volumes"))
		return nil, false
	}
	return s.b.Volumes, true
}

func (s *server) createVolume(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.volumes(w, r)
	if !ok {
		return
	}
	var req types.VolumeCreateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	vi, err := vs.CreateVolume(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, vi)
}

func (s *server) listVolumes(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.volumes(w, r)
	if !ok {
		return
	}
	list, err := vs.ListVolumes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []types.VolumeInfo{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) inspectVolume(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.volumes(w, r)
	if !ok {
		return
	}
	vi, err := vs.InspectVolume(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vi)
}

func (s *server) removeVolume(w http.ResponseWriter, r *http.Request) {
	vs, ok := s.volumes(w, r)
	if !ok {
		return
	}
	if err := vs.RemoveVolume(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
