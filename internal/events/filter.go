package events

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// Filter selects events as docker's events --filter does: the values of
// one key are alternatives, different keys must all match. An empty
// Filter matches everything; daemon events (events-lost) always match.
type Filter map[string][]string

// filterKeys are the keys a Filter may have. pod is container's synonym.
var filterKeys = map[string]bool{"type": true, "event": true, "container": true, "pod": true,
	"image": true, "label": true, "volume": true}

// ParseFilter reads docker's filters: the JSON of the filters query
// parameter ({"type":["container"],"event":["die"]}, or the older
// {"type":{"container":true}}), or "key=value" items (repeated query
// values, --filter flags).
func ParseFilter(jsonText string, items []string) (Filter, error) {
	f := Filter{}
	if strings.TrimSpace(jsonText) != "" {
		var lists map[string][]string
		if err := json.Unmarshal([]byte(jsonText), &lists); err != nil {
			var sets map[string]map[string]bool
			if err2 := json.Unmarshal([]byte(jsonText), &sets); err2 != nil {
				return nil, errdefs.InvalidArgument("invalid filters %q: %v", jsonText, err)
			}
			lists = map[string][]string{}
			for k, set := range sets {
				for v, on := range set {
					if on {
						lists[k] = append(lists[k], v)
					}
				}
			}
		}
		for k, vs := range lists {
			for _, v := range vs {
				if err := f.add(k, v); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok {
			return nil, errdefs.InvalidArgument("invalid filter %q: want key=value", it)
		}
		if err := f.add(k, v); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f Filter) add(k, v string) error {
	k = strings.ToLower(strings.TrimSpace(k))
	if !filterKeys[k] {
		return errdefs.InvalidArgument("invalid filter %q: the keys are type, event, container (or pod), image, label, volume", k)
	}
	if k == "pod" {
		k = "container"
	}
	if k == "type" {
		switch v {
		case types.EventContainer, types.EventImage, types.EventVolume, types.EventDaemon:
		default:
			return errdefs.InvalidArgument("invalid filter type=%s: the types are container, image, volume, daemon", v)
		}
	}
	f[k] = append(f[k], v)
	return nil
}

// Match tells whether f selects e.
func (f Filter) Match(e types.Event) bool {
	if e.Type == types.EventDaemon {
		return true
	}
	a := e.Actor.Attributes
	for k, vs := range f {
		var ok bool
		switch k {
		case "type":
			ok = anyOf(vs, func(v string) bool { return v == e.Type })
		case "event":
			ok = anyOf(vs, func(v string) bool { return v == e.Action || strings.HasPrefix(e.Action, v+": ") })
		case "container":
			ok = e.Type == types.EventContainer && anyOf(vs, func(v string) bool {
				return v == a["name"] || (len(v) >= 3 && strings.HasPrefix(e.Actor.ID, v))
			})
		case "image":
			ok = anyOf(vs, func(v string) bool {
				return imageMatch(v, a["image"]) || imageMatch(v, a["name"]) || imageMatch(v, e.Actor.ID)
			})
		case "volume":
			ok = e.Type == types.EventVolume && anyOf(vs, func(v string) bool { return v == e.Actor.ID })
		case "label":
			ok = anyOf(vs, func(v string) bool {
				lk, lv, hasV := strings.Cut(v, "=")
				got, has := a[lk]
				return has && (!hasV || got == lv)
			})
		}
		if !ok {
			return false
		}
	}
	return true
}

// imageMatch: want names image ref got exactly, or without its tag
// ("busybox" matches "busybox:latest"), or is a prefix of its ID.
func imageMatch(want, got string) bool {
	if got == "" || want == "" {
		return false
	}
	if want == got || strings.TrimSuffix(got, ":latest") == want {
		return true
	}
	if name, _, ok := strings.Cut(got, "@"); ok && name == want {
		return true
	}
	id := strings.TrimPrefix(got, "sha256:")
	return len(want) >= 4 && strings.HasPrefix(id, strings.TrimPrefix(want, "sha256:"))
}

func anyOf(vs []string, match func(string) bool) bool {
	for _, v := range vs {
		if match(v) {
			return true
		}
	}
	return false
}

// ParseTime reads a --since or --until value as docker does: RFC3339
// (with or without fraction and zone), a date, Unix seconds with an
// optional fraction ("1700000000.5"), or a duration before now ("10m").
// "" is the zero time.
func ParseTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); isDigits(sec) && (!ok || isDigits(frac)) {
		s, err := strconv.ParseInt(sec, 10, 64)
		if err != nil || s > math.MaxInt64/1_000_000_000 {
			return time.Time{}, errdefs.InvalidArgument("invalid time %q: out of range", v)
		}
		var ns int64
		if ok {
			frac = (frac + "000000000")[:9]
			ns, _ = strconv.ParseInt(frac, 10, 64)
		}
		return time.Unix(s, ns), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidArgument("invalid time %q: want RFC3339, Unix seconds or a duration such as 10m", v)
}

func isDigits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
