package api

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/api/signals"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func (s *server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.System.Version())
}

func (s *server) info(w http.ResponseWriter, r *http.Request) {
	info, err := s.b.System.Info(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *server) createPod(w http.ResponseWriter, r *http.Request) {
	var spec types.PodSpec
	if err := decodeJSON(w, r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.b.Pods.Create(r.Context(), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res)
}

func (s *server) listPods(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	all := q.bool("all")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	pods, err := s.b.Pods.List(r.Context(), all)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pods == nil {
		pods = []types.Pod{}
	}
	writeJSON(w, http.StatusOK, pods)
}

func (s *server) getPod(w http.ResponseWriter, r *http.Request) {
	pod, err := s.b.Pods.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pod)
}

func (s *server) startPod(w http.ResponseWriter, r *http.Request) {
	s.noContent(w, r, s.b.Pods.Start(r.Context(), r.PathValue("id")))
}

func (s *server) stopPod(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	t := q.int("t", -1, 0, math.MaxInt32)
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	grace := time.Duration(t) * time.Second
	if t < 0 {
		grace = -1 // the pod's own (run --stop-timeout), else 10 s
	}
	s.noContent(w, r, s.b.Pods.Stop(r.Context(), r.PathValue("id"), grace))
}

func (s *server) killPod(w http.ResponseWriter, r *http.Request) {
	sig := 9
	if v := r.URL.Query().Get("signal"); v != "" {
		n, err := signals.Parse(v)
		if err != nil {
			s.writeError(w, r, errdefs.InvalidArgument("query parameter signal=%q: %w", v, err))
			return
		}
		sig = n
	}
	s.noContent(w, r, s.b.Pods.Kill(r.Context(), r.PathValue("id"), sig))
}

func (s *server) removePod(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	force := q.bool("force")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	s.noContent(w, r, s.b.Pods.Remove(r.Context(), r.PathValue("id"), force))
}

func (s *server) renamePod(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.writeError(w, r, errdefs.InvalidArgument("query parameter name is required"))
		return
	}
	s.noContent(w, r, s.b.Pods.Rename(r.Context(), r.PathValue("id"), name))
}

// waitPod sends the response headers as soon as the backend has registered
// the waiter, and the body when the pod has exited. An error after the
// headers went out is reported in the body's error field.
func (s *server) waitPod(w http.ResponseWriter, r *http.Request) {
	// mu is held across writing and flushing the headers on purpose: the
	// handler must not write the response while ready does; nothing else
	// waits on it.
	var (
		mu   sync.Mutex
		sent bool // headers are out
		done bool // the handler has moved on: ready is a no-op
	)
	ready := func() {
		mu.Lock()
		defer mu.Unlock()
		if sent || done {
			return
		}
		sent = true
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
	}
	res, err := s.b.Pods.Wait(r.Context(), r.PathValue("id"), ready)
	mu.Lock()
	done = true
	wasSent := sent
	mu.Unlock()
	if !wasSent {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	if err != nil {
		s.log.Debug("api wait failed after headers", "path", r.URL.Path, "err", err)
		res = types.WaitResponse{ExitCode: -1, Error: &types.Error{Message: err.Error()}}
	}
	_ = jsonEncode(w, res)
}

func (s *server) resizePod(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	h, wd := q.size("h"), q.size("w")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	s.noContent(w, r, s.b.Streams.Resize(r.Context(), r.PathValue("id"), q.str("container"), h, wd))
}

// noContent answers 204, or the error.
func (s *server) noContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
