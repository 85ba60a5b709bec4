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

// Committer is the optional ability of a Files to make a container's
// changes a new image (docker commit).
type Committer interface {
	Commit(ctx context.Context, pod, container string, o types.CommitOptions) ([]types.Image, error)
}

func (s *server) commit(w http.ResponseWriter, r *http.Request) {
	cm, ok := s.b.Files.(Committer)
	if !ok {
		s.writeError(w, r, errdefs.NotFound("this daemon does not commit containers"))
		return
	}
	q := newQuery(r)
	o := types.CommitOptions{Repo: q.str("repo"), Author: q.str("author"), Comment: q.str("comment"), Changes: q.v["changes"]}
	ims, err := cm.Commit(r.Context(), r.PathValue("id"), q.str("container"), o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ims)
}
