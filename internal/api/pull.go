package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Puller pulls images from registries. The Images backend implements it
// when the daemon can pull; the server answers 404 otherwise.
type Puller interface {
	// Pull fetches ref for platform ("os/arch[/variant]", "" for the
	// host's), calling progress as it goes.
	Pull(ctx context.Context, ref, platform string, progress func(types.PullEvent)) (types.Image, error)
}

// pullImage is POST /v1/images/pull?ref=...&platform=...: a 200 answer of
// NDJSON PullEvents, the last with the image or the error. Errors found
// before anything is pulled (bad query) are normal JSON errors.
func (s *server) pullImage(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	ref := q.str("ref")
	platform := q.str("platform")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	if ref == "" {
		s.writeError(w, r, errdefs.InvalidArgument("query parameter ref is required"))
		return
	}
	p, ok := s.b.Images.(Puller)
	if !ok {
		s.writeError(w, r, errdefs.NotFound("this daemon cannot pull images"))
		return
	}
	stream := startNDJSON(w)
	send := func(ev types.PullEvent) { stream(ev) }
	img, err := p.Pull(r.Context(), ref, platform, send)
	if err != nil {
		code := StatusCode(err)
		if code >= 500 && code != StatusClientClosedRequest {
			s.log.Warn("pull failed", "ref", ref, "err", err)
		}
		send(types.PullEvent{Error: err.Error(), ErrorCode: code})
		return
	}
	send(types.PullEvent{Status: "pulled", ID: ref, Image: &img})
}

// startNDJSON answers 200 with a stream of newline-delimited JSON values
// (pull and push progress) and returns the function that sends one: safe
// for concurrent use, each value flushed at once.
func startNDJSON(w http.ResponseWriter) func(v any) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	// mu is held across the write and flush on purpose: it orders the
	// values on the response; nothing else waits on it.
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(v any) {
		mu.Lock()
		defer mu.Unlock()
		if enc.Encode(v) == nil {
			_ = rc.Flush()
		}
	}
}
