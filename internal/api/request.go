package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// decodeJSON reads r's body, at most maxJSONBody bytes, into v: exactly
// one JSON value, no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		if mt = strings.TrimSpace(strings.ToLower(mt)); mt != "application/json" {
			return errdefs.InvalidArgument("Content-Type %q: the body must be application/json", ct)
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errdefs.InvalidArgument("request body larger than %d bytes", mbe.Limit)
		}
		return errdefs.InvalidArgument("reading request body: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errdefs.InvalidArgument("empty request body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errdefs.InvalidArgument("invalid JSON body: %s", describeJSONError(data, err))
	}
	if dec.More() {
		return errdefs.InvalidArgument("invalid JSON body: unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errdefs.InvalidArgument("invalid JSON body: unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}

// describeJSONError says where and what went wrong.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := position(data, se.Offset)
		return fmt.Sprintf("syntax error at line %d, column %d: %v", line, col, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Sprintf("field %s: cannot use JSON %s as %s", field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	// "json: unknown field \"x\"" and the like.
	return strings.TrimPrefix(err.Error(), "json: ")
}

func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off-1 && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// query reads typed query parameters; the first bad one is kept in err.
type query struct {
	v   url.Values
	err error
}

func newQuery(r *http.Request) *query { return &query{v: r.URL.Query()} }

func (q *query) fail(name, val, want string) {
	if q.err == nil {
		q.err = errdefs.InvalidArgument("query parameter %s=%q: %s", name, val, want)
	}
}

func (q *query) str(name string) string { return q.v.Get(name) }

func (q *query) has(name string) bool { return q.v.Has(name) }

// bool accepts 1/0, true/false, t/f (any case); a bare "?all" is true.
func (q *query) bool(name string) bool {
	if !q.v.Has(name) {
		return false
	}
	s := q.v.Get(name)
	if s == "" {
		return true
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.fail(name, s, "want 1, 0, true or false")
	}
	return b
}

// int reads an integer in [lo, hi], or def when absent.
func (q *query) int(name string, def, lo, hi int64) int64 {
	if !q.v.Has(name) {
		return def
	}
	s := q.v.Get(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		q.fail(name, s, fmt.Sprintf("want an integer from %d to %d", lo, hi))
		return def
	}
	return n
}

// size reads a required terminal dimension.
func (q *query) size(name string) uint16 {
	if !q.v.Has(name) {
		if q.err == nil {
			q.err = errdefs.InvalidArgument("query parameter %s is required", name)
		}
		return 0
	}
	return uint16(q.int(name, 0, 1, math.MaxUint16))
}

// time reads RFC 3339 or a unix time in seconds (fractions allowed).
func (q *query) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		q.fail(name, s, "want an RFC 3339 time or unix seconds")
	}
	return t
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	sec, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, errors.New("bad time")
	}
	var nsec int64
	if hasFrac {
		if frac == "" || len(frac) > 9 {
			return time.Time{}, errors.New("bad time")
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return time.Time{}, errors.New("bad time")
		}
		nsec = f
	}
	return time.Unix(n, nsec), nil
}
