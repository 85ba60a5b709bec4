package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// StatusClientClosedRequest answers a request whose client went away (as
// nginx does); nobody reads it, but it shows in the log.
const StatusClientClosedRequest = 499

// StatusCode is the one place where error kinds become HTTP status codes.
// The outermost errdefs error gives the kind: a Conflict whose cause is a
// NotFound is a 409.
func StatusCode(err error) int {
	if err == nil {
		return http.StatusOK
	}
	kind := err // none made by errdefs: one may still answer errors.Is for a kind
	if k := errdefs.Kind(err); k != nil {
		kind = k
	}
	switch {
	case errors.Is(kind, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(kind, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(kind, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with err's status and message.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := StatusCode(err)
	if code >= 500 && code != StatusClientClosedRequest {
		s.log.Warn("api error", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	} else {
		s.log.Debug("api error", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	writeJSON(w, code, types.Error{Message: err.Error()})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonEncode(w http.ResponseWriter, v any) error { return json.NewEncoder(w).Encode(v) }
