package api

import (
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
)

func (s *server) createExec(w http.ResponseWriter, r *http.Request) {
	var spec types.ExecSpec
	if err := decodeJSON(w, r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.b.Execs.CreateExec(r.Context(), r.PathValue("id"), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *server) resizeExec(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	h, wd := q.size("h"), q.size("w")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	s.noContent(w, r, s.b.Execs.ResizeExec(r.Context(), r.PathValue("id"), h, wd))
}

func (s *server) inspectExec(w http.ResponseWriter, r *http.Request) {
	info, err := s.b.Execs.InspectExec(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
