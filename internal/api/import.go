package api

import (
	"context"
	"io"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Importer is the optional ability of an Images to turn a tarball into a
// one-layer image (docker import).
type Importer interface {
	Import(ctx context.Context, r io.Reader, repo, message string, changes []string) ([]types.Image, error)
}

func (s *server) importImage(w http.ResponseWriter, r *http.Request) {
	im, ok := s.b.Images.(Importer)
	if !ok {
		s.writeError(w, r, errdefs.NotFound("this daemon does not import images"))
		return
	}
	q := newQuery(r)
	ims, err := im.Import(r.Context(), r.Body, q.str("repo"), q.str("message"), q.v["changes"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ims)
}
