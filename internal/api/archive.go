package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Files are a running pod's container root filesystems: tar archives in
// and out (cp, export) and their changes (diff). Pods are named as in
// Pods; container "" is the first.
type Files interface {
	StatPath(ctx context.Context, pod, container, path string) (types.PathStat, error)
	// GetArchive writes a tar archive of path to the writer w returns,
	// which it calls once with the path's stat before the first byte.
	GetArchive(ctx context.Context, pod, container, path string, follow bool, w func(types.PathStat) io.Writer) error
	// PutArchive extracts the tar archive r into directory path.
	PutArchive(ctx context.Context, pod, container, path string, o types.ArchiveOptions, r io.Reader) error
	Changes(ctx context.Context, pod, container string) ([]types.Change, error)
}

func (s *server) routeFiles(mux *http.ServeMux, v string) {
	mux.HandleFunc("HEAD "+v+"/pods/{id}/archive", s.statArchive)
	mux.HandleFunc("GET "+v+"/pods/{id}/archive", s.getArchive)
	mux.HandleFunc("PUT "+v+"/pods/{id}/archive", s.putArchive)
	mux.HandleFunc("GET "+v+"/pods/{id}/changes", s.changes)
	mux.HandleFunc("POST "+v+"/images/import", s.importImage)
	mux.HandleFunc("POST "+v+"/pods/{id}/commit", s.commit)
}

func (s *server) files(w http.ResponseWriter, r *http.Request) (Files, bool) {
	if s.b.Files == nil {
		s.writeError(w, r, errdefs.NotFound("this daemon serves no archives"))
		return nil, false
	}
	return s.b.Files, true
}

// archivePath reads the path query parameter.
func archivePath(q *query) string {
	p := q.str("path")
	if p == "" && q.err == nil {
		q.err = errdefs.InvalidArgument("query parameter path is required")
	}
	return p
}

func setPathStat(w http.ResponseWriter, st types.PathStat) {
	b, _ := json.Marshal(st)
	w.Header().Set(types.PathStatHeader, base64.StdEncoding.EncodeToString(b))
}

func (s *server) statArchive(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files(w, r)
	if !ok {
		return
	}
	q := newQuery(r)
	p := archivePath(q)
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	st, err := f.StatPath(r.Context(), r.PathValue("id"), q.str("container"), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
}

func (s *server) getArchive(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files(w, r)
	if !ok {
		return
	}
	q := newQuery(r)
	p, follow := archivePath(q), q.bool("follow")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	started := false
	err := f.GetArchive(r.Context(), r.PathValue("id"), q.str("container"), p, follow, func(st types.PathStat) io.Writer {
		started = true
		setPathStat(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		return w
	})
	if err != nil {
		if !started {
			s.writeError(w, r, err)
			return
		}
		// Mid-archive: the status is sent; cutting the response short
		// tells the client the archive is incomplete.
		s.log.Warn("archive cut short", "pod", r.PathValue("id"), "path", p, "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *server) putArchive(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files(w, r)
	if !ok {
		return
	}
	q := newQuery(r)
	p := archivePath(q)
	o := types.ArchiveOptions{CopyUIDGID: q.bool("copyUIDGID"), NoOverwriteDirNonDir: q.bool("noOverwriteDirNonDir")}
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	s.noContent(w, r, f.PutArchive(r.Context(), r.PathValue("id"), q.str("container"), p, o, r.Body))
}

func (s *server) changes(w http.ResponseWriter, r *http.Request) {
	f, ok := s.files(w, r)
	if !ok {
		return
	}
	ch, err := f.Changes(r.Context(), r.PathValue("id"), newQuery(r).str("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}
