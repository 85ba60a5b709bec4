package api

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// maxJSONBody bounds JSON request bodies.
const maxJSONBody = 1 << 20

// server serves one Backend.
type server struct {
	b   Backend
	log *slog.Logger
}

// NewServer returns the API's handler for b. Every request is logged at
// debug level on log (nil: slog.Default()).
func NewServer(b Backend, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	v := "/" + types.APIVersion

	mux.HandleFunc("GET "+v+"/version", s.version)
	mux.HandleFunc("GET "+v+"/info", s.info)

	mux.HandleFunc("POST "+v+"/pods", s.createPod)
	mux.HandleFunc("GET "+v+"/pods", s.listPods)
	mux.HandleFunc("POST "+v+"/pods/prune", s.prunePods)
	mux.HandleFunc("GET "+v+"/pods/{id}", s.getPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/start", s.startPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/stop", s.stopPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/kill", s.killPod)
	mux.HandleFunc("DELETE "+v+"/pods/{id}", s.removePod)
	mux.HandleFunc("POST "+v+"/pods/{id}/wait", s.waitPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/rename", s.renamePod)
	mux.HandleFunc("POST "+v+"/pods/{id}/attach", s.attachPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/resize", s.resizePod)
	mux.HandleFunc("GET "+v+"/pods/{id}/logs", s.podLogs)
	mux.HandleFunc("POST "+v+"/pods/{id}/containers", s.addContainer)
	mux.HandleFunc("GET "+v+"/pods/{id}/stats", s.podStats)
	mux.HandleFunc("POST "+v+"/pods/{id}/pause", s.pausePod)
	mux.HandleFunc("GET "+v+"/pods/{id}/top", s.topPod)
	mux.HandleFunc("POST "+v+"/pods/{id}/unpause", s.unpausePod)
	mux.HandleFunc("POST "+v+"/pods/{id}/update", s.updatePod)
	mux.HandleFunc("DELETE "+v+"/pods/{id}/containers/{name}", s.removeContainer)
	mux.HandleFunc("GET "+v+"/containers/{ref}", s.resolveContainer)

	mux.HandleFunc("POST "+v+"/pods/{id}/exec", s.createExec)
	mux.HandleFunc("POST "+v+"/exec/{id}/start", s.startExec)
	mux.HandleFunc("POST "+v+"/exec/{id}/resize", s.resizeExec)
	mux.HandleFunc("GET "+v+"/exec/{id}", s.inspectExec)

	mux.HandleFunc("GET "+v+"/images", s.listImages)
	mux.HandleFunc("POST "+v+"/images/load", s.loadImages)
	mux.HandleFunc("GET "+v+"/images/save", s.saveImages)
	mux.HandleFunc("POST "+v+"/images/pull", s.pullImage)
	mux.HandleFunc("DELETE "+v+"/images/{ref...}", s.removeImage)
	mux.HandleFunc("POST "+v+"/images/tag", s.tagImage)
	mux.HandleFunc("POST "+v+"/images/prune", s.pruneImages)
	mux.HandleFunc("POST "+v+"/images/push", s.pushImage)
	mux.HandleFunc("GET "+v+"/system/df", s.systemDF)
	s.routeVolumes(mux, v)
	mux.HandleFunc("GET "+v+"/events", s.events)
	if b.Metrics != nil {
		mux.Handle("GET /metrics", b.Metrics)
	}
	s.routeFiles(mux, v)

	// Everything else: a JSON 404 rather than the mux's plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, types.Error{Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return s.logRequests(mux)
}

// logRequests logs every request at debug level once it is done.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		defer func() {
			status := rw.status
			if rw.hijacked {
				status = http.StatusSwitchingProtocols
			} else if status == 0 {
				status = http.StatusOK
			}
			s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
				"status", status, "duration", time.Since(start), "client", client(r))
		}()
		next.ServeHTTP(rw, r)
	})
}

// recorder remembers the status; Unwrap lets http.ResponseController reach
// Flush and Hijack underneath.
type recorder struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush is here too because some code asserts http.Flusher directly.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, brw, err
}

var errNotHijackable = errors.New("connection cannot be upgraded")
