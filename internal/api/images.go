package api

import (
	"io"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func (s *server) listImages(w http.ResponseWriter, r *http.Request) {
	imgs, err := s.b.Images.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if imgs == nil {
		imgs = []types.Image{}
	}
	writeJSON(w, http.StatusOK, imgs)
}

// loadImages reads a tar stream of any size: the image store bounds it.
func (s *server) loadImages(w http.ResponseWriter, r *http.Request) {
	imgs, err := s.b.Images.Load(r.Context(), r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Let the client see the answer even if it is still sending.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	if imgs == nil {
		imgs = []types.Image{}
	}
	writeJSON(w, http.StatusOK, types.LoadResponse{Images: imgs})
}

// saveImages streams a tar; headers go out with its first byte, so an error
// before that is a normal JSON error, one after is the Hyper-Error trailer.
func (s *server) saveImages(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	names := q.v["names"]
	format := q.str("format")
	if format == "" {
		format = "docker"
	}
	switch {
	case len(names) == 0:
		s.writeError(w, r, errdefs.InvalidArgument("query parameter names is required (one or more image names or IDs)"))
		return
	case format != "docker" && format != "oci":
		s.writeError(w, r, errdefs.InvalidArgument("query parameter format=%q: want docker or oci", format))
		return
	}
	for _, n := range names {
		if n == "" {
			s.writeError(w, r, errdefs.InvalidArgument("query parameter names: empty image name"))
			return
		}
	}
	sw := &lazyStream{w: w, contentType: "application/x-tar"}
	err := s.b.Images.Save(r.Context(), sw, names, format)
	sw.finish(s, r, err)
}

func (s *server) removeImage(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	force := q.bool("force")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	ref := r.PathValue("ref")
	if ref == "" {
		s.writeError(w, r, errdefs.InvalidArgument("missing image reference in path"))
		return
	}
	if s.removeImageReport(w, r, ref, force) {
		return
	}
	s.noContent(w, r, s.b.Images.Remove(r.Context(), ref, force))
}
