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
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrUnavailable):
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
