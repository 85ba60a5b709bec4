package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Containers are the containers of existing pods, added and removed while
// the pod runs or not (the VM's disks allow it: ADR 0007).
type Containers interface {
	// Add adds a container to a pod, and starts it if the pod runs; the
	// answer's ID is the container's name.
	Add(ctx context.Context, pod string, spec types.ContainerSpec) (types.CreateResponse, error)
	// Remove removes a container from a pod; force kills it first if it
	// runs.
	Remove(ctx context.Context, pod, name string, force bool) error
}

func (s *server) addContainer(w http.ResponseWriter, r *http.Request) {
	if s.b.Containers == nil {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot add containers to pods"))
		return
	}
	created(s, w, r, func(spec types.ContainerSpec) (types.CreateResponse, error) {
		return s.b.Containers.Add(r.Context(), r.PathValue("id"), spec)
	})
}

func (s *server) removeContainer(w http.ResponseWriter, r *http.Request) {
	if s.b.Containers == nil {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot remove containers from pods"))
		return
	}
	q := newQuery(r)
	force := q.bool("force")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	s.noContent(w, r, s.b.Containers.Remove(r.Context(), r.PathValue("id"), r.PathValue("name"), force))
}

// created decodes a JSON body of type T, hands it to fn, and answers 201
// with what fn created.
func created[T any](s *server, w http.ResponseWriter, r *http.Request, fn func(T) (types.CreateResponse, error)) {
	var spec T
	if err := decodeJSON(w, r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := fn(spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}
