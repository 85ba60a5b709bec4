package api

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
)

// podLogs streams log entries as newline-delimited JSON. Headers go out
// with the first entry, so an error found before that is a normal JSON
// error; one found after ends the stream with the trailer Hyper-Error.
func (s *server) podLogs(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	o := types.LogOptions{
		Container:  q.str("container"),
		Follow:     q.bool("follow"),
		Since:      q.time("since"),
		Timestamps: q.bool("timestamps"),
	}
	tailAll := true
	if v := q.str("tail"); v != "" && v != "all" {
		o.Tail = int(q.int("tail", 0, 0, math.MaxInt32))
		tailAll = false
	}
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	if !tailAll && o.Tail == 0 {
		// "No old entries": the backend's Tail 0 means all, so ask for
		// entries from now on instead.
		if now := time.Now(); o.Since.Before(now) {
			o.Since = now
		}
	}
	sw := &lazyStream{w: w, contentType: "application/x-ndjson"}
	enc := json.NewEncoder(sw)
	err := s.b.Streams.Logs(r.Context(), r.PathValue("id"), o, func(e types.LogEntry) error {
		if err := enc.Encode(e); err != nil {
			return err
		}
		if o.Follow {
			sw.flush()
		}
		return nil
	})
	sw.finish(s, r, err)
}

// lazyStream sends a 200 and its headers with the first byte, so that a
// handler can still answer an error it meets before that.
type lazyStream struct {
	w           http.ResponseWriter
	contentType string
	started     bool
}

func (l *lazyStream) start() {
	if l.started {
		return
	}
	l.started = true
	h := l.w.Header()
	h.Set("Content-Type", l.contentType)
	h.Set("Trailer", types.HeaderError)
	h.Set("X-Content-Type-Options", "nosniff")
	l.w.WriteHeader(http.StatusOK)
}

func (l *lazyStream) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}

func (l *lazyStream) flush() {
	l.start()
	_ = http.NewResponseController(l.w).Flush()
}

// finish ends the response: the error as JSON if nothing was sent, else
// the Hyper-Error trailer.
func (l *lazyStream) finish(s *server, r *http.Request, err error) {
	if err == nil {
		l.start()
		return
	}
	if !l.started {
		s.writeError(l.w, r, err)
		return
	}
	s.log.Debug("api stream failed after it began", "path", r.URL.Path, "err", err)
	l.w.Header().Set(types.HeaderError, strings.Join(strings.Fields(err.Error()), " "))
}

var _ io.Writer = (*lazyStream)(nil)
