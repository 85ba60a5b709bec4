package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Resources are the figures of running pods.
type Resources interface {
	// Stats reads a running pod's figures once (Conflict if it is not
	// running).
	Stats(ctx context.Context, id string) (types.PodStats, error)
	// Pause stops a running pod's VM; Unpause runs it again (Conflict
	// if it is not running, or already so).
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	// Top lists the processes of a running pod's container ("": the
	// first).
	Top(ctx context.Context, id, container string) (types.TopResponse, error)
}

func (s *server) topPod(w http.ResponseWriter, r *http.Request) {
	if s.b.Resources == nil {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot list processes"))
		return
	}
	top, err := s.b.Resources.Top(r.Context(), r.PathValue("id"), r.URL.Query().Get("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, top)
}

func (s *server) pausePod(w http.ResponseWriter, r *http.Request) {
	s.pauseOp(w, r, func(ctx context.Context, id string) error { return s.b.Resources.Pause(ctx, id) })
}

func (s *server) unpausePod(w http.ResponseWriter, r *http.Request) {
	s.pauseOp(w, r, func(ctx context.Context, id string) error { return s.b.Resources.Unpause(ctx, id) })
}

func (s *server) pauseOp(w http.ResponseWriter, r *http.Request, op func(context.Context, string) error) {
	if s.b.Resources == nil {
		s.writeError(w, r, errdefs.Unavailable("this hyperd cannot pause pods"))
		return
	}
	s.noContent(w, r, op(r.Context(), r.PathValue("id")))
}

// StatsInterval is how often a stats stream reads its pod.
const StatsInterval = time.Second

// podStats answers one reading, or with stream (docker's default) one
// JSON object a line every StatsInterval until the client goes or the
// pod stops running (the stream then ends without error).
func (s *server) podStats(w http.ResponseWriter, r *http.Request) {
	if s.b.Resources == nil {
		s.writeError(w, r, errdefs.Unavailable("this hyperd has no stats"))
		return
	}
	q := newQuery(r)
	stream := !q.has("stream") || q.bool("stream")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	ctx, id := r.Context(), r.PathValue("id")
	if !stream {
		st, err := s.b.Resources.Stats(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
		return
	}
	sw := &lazyStream{w: w, contentType: "application/x-ndjson"}
	enc := json.NewEncoder(sw)
	t := time.NewTicker(StatsInterval)
	defer t.Stop()
	var err error
	for {
		var st types.PodStats
		st, err = s.b.Resources.Stats(ctx, id)
		if err != nil {
			if sw.started && errors.Is(err, errdefs.ErrConflict) {
				err = nil // stopped meanwhile
			}
			break
		}
		if err = enc.Encode(st); err != nil {
			break
		}
		sw.flush()
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
		}
		break
	}
	sw.finish(s, r, err)
}
