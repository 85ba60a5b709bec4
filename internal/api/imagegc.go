package api

import (
	"context"
	"net/http"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// ImageManager is the rest of the image store: rmi with a report, tag,
// prune, disk usage and push. The Images backend implements it when the
// daemon can; the server answers 404 to these endpoints otherwise (and
// DELETE /v1/images/{ref} with 204, as before).
type ImageManager interface {
	// RemoveImage is Images.Remove, saying what it untagged and deleted.
	RemoveImage(ctx context.Context, ref string, force bool) (types.ImageDeleteResponse, error)
	// TagImage names the image source resolves to target.
	TagImage(ctx context.Context, source, target string) error
	// PruneImages deletes the images no pod uses: dangling ones only, or
	// all with all.
	PruneImages(ctx context.Context, all bool) (types.ImagePruneResponse, error)
	// DiskUsage measures the image store on disk.
	DiskUsage(ctx context.Context) (types.DiskUsage, error)
	// PushImage pushes the image named ref to its registry, calling
	// progress as it goes; the result carries Name, Digest and Size.
	PushImage(ctx context.Context, ref string, progress func(types.PushEvent)) (types.PushEvent, error)
}

func (s *server) imageManager(w http.ResponseWriter, r *http.Request) (ImageManager, bool) {
	m, ok := s.b.Images.(ImageManager)
	if !ok {
		s.writeError(w, r, errdefs.NotFound("this daemon cannot manage images this way"))
	}
	return m, ok
}

// removeImageReport answers DELETE /v1/images/{ref} with what was done,
// if the backend can say.
func (s *server) removeImageReport(w http.ResponseWriter, r *http.Request, ref string, force bool) bool {
	m, ok := s.b.Images.(ImageManager)
	if !ok {
		return false
	}
	res, err := m.RemoveImage(r.Context(), ref, force)
	if err != nil {
		s.writeError(w, r, err)
		return true
	}
	if res.Untagged == nil {
		res.Untagged = []string{}
	}
	writeJSON(w, http.StatusOK, res)
	return true
}

// tagImage is POST /v1/images/tag?source=...&target=...: 204.
func (s *server) tagImage(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	src, dst := q.str("source"), q.str("target")
	switch {
	case src == "":
		s.writeError(w, r, errdefs.InvalidArgument("query parameter source is required"))
		return
	case dst == "":
		s.writeError(w, r, errdefs.InvalidArgument("query parameter target is required"))
		return
	}
	m, ok := s.imageManager(w, r)
	if !ok {
		return
	}
	s.noContent(w, r, m.TagImage(r.Context(), src, dst))
}

// pruneImages is POST /v1/images/prune[?all=1].
func (s *server) pruneImages(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	all := q.bool("all")
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	m, ok := s.imageManager(w, r)
	if !ok {
		return
	}
	res, err := m.PruneImages(r.Context(), all)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Images == nil {
		res.Images = []types.ImageDeleteResponse{}
	}
	writeJSON(w, http.StatusOK, res)
}

// systemDF is GET /v1/system/df.
func (s *server) systemDF(w http.ResponseWriter, r *http.Request) {
	m, ok := s.imageManager(w, r)
	if !ok {
		return
	}
	du, err := m.DiskUsage(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, du)
}

// pushImage is POST /v1/images/push?ref=...: a 200 answer of NDJSON
// PushEvents, as pull's; the last has Digest or Error.
func (s *server) pushImage(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	ref := q.str("ref")
	if ref == "" {
		s.writeError(w, r, errdefs.InvalidArgument("query parameter ref is required"))
		return
	}
	m, ok := s.imageManager(w, r)
	if !ok {
		return
	}
	stream := startNDJSON(w)
	send := func(ev types.PushEvent) { stream(ev) }
	res, err := m.PushImage(r.Context(), ref, send)
	if err != nil {
		code := StatusCode(err)
		if code >= 500 && code != StatusClientClosedRequest {
			s.log.Warn("push failed", "ref", ref, "err", err)
		}
		send(types.PushEvent{Error: err.Error(), ErrorCode: code})
		return
	}
	res.Status = "pushed"
	send(res)
}
