package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hyperhq/hyper/internal/api/signals"
)

// parseMemoryMB reads a docker-style size ("512m", "1g", "1.5GiB",
// "2048k") into whole MiB, rounding up; a bare number is MiB. Units are
// binary, as docker's --memory: k=KiB, m=MiB, g=GiB, t=TiB, b=bytes.
func parseMemoryMB(s string) (int, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	v, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || v <= 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid size %q: want a positive number with an optional unit (512m, 1g)", s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use b, k, m, g or t)", s, t[i:])
	}
	mb := math.Ceil(v * mult / (1 << 20))
	if mb > math.MaxInt32 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int(mb), nil
}

// sizeUnits are docker's binary units; no unit is MiB.
var sizeUnits = map[string]float64{
	"": 1 << 20, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

// parseEnvFile reads a docker --env-file: KEY=VALUE lines, the value taken
// verbatim; a bare KEY takes its value from hyperctl's environment (and is
// skipped if unset); blank lines and lines starting with # are ignored.
func parseEnvFile(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseEnv(f, name, os.LookupEnv)
}

func parseEnv(r io.Reader, name string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("env file %s: line %d is not valid UTF-8", name, n)
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, hasVal := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("env file %s: line %d: no variable name", name, n)
		}
		if !hasVal {
			key = strings.TrimRightFunc(key, unicode.IsSpace)
		}
		if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
			return nil, fmt.Errorf("env file %s: line %d: variable %q contains whitespace", name, n, key)
		}
		if hasVal {
			out = append(out, key+"="+val)
		} else if v, ok := lookup(key); ok {
			out = append(out, key+"="+v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("env file %s: %w", name, err)
	}
	return out, nil
}

// expandEnv handles -e: KEY=VALUE as is, a bare KEY from the environment.
func expandEnv(vals []string, lookup func(string) (string, bool)) ([]string, error) {
	var out []string
	for _, v := range vals {
		key, _, hasVal := strings.Cut(v, "=")
		if key == "" {
			return nil, fmt.Errorf("invalid environment variable %q: no name", v)
		}
		if hasVal {
			out = append(out, v)
		} else if val, ok := lookup(key); ok {
			out = append(out, key+"="+val)
		}
	}
	return out, nil
}

// parseLabels reads k=v (a bare k is k="").
func parseLabels(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(vals))
	for _, v := range vals {
		k, val, _ := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid label %q: no key", v)
		}
		m[k] = val
	}
	return m, nil
}

// parseSince reads --since: a duration back from now ("10m", "1h30m"),
// an RFC 3339 time, a date and time without zone (local), a date, or unix
// seconds.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("invalid --since %q: negative duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	sec, frac, hasFrac := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil && n >= 0 {
		var ns int64
		if hasFrac {
			if frac == "" || len(frac) > 9 {
				return time.Time{}, fmt.Errorf("invalid --since %q", s)
			}
			f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("invalid --since %q", s)
			}
			ns = f
		}
		return time.Unix(n, ns), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want a duration (10m), an RFC 3339 time, or unix seconds", s)
}

// parseTail reads --tail: "all" or a count; 0 means no old lines.
func parseTail(s string) (int, error) {
	if s == "" || s == "all" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid --tail %q: want a number of lines or \"all\"", s)
	}
	if n == 0 {
		return -1, nil // client.Logs: none
	}
	return n, nil
}

// parseSignal validates a signal name or number; it returns the name to
// send (the daemon accepts both).
func parseSignal(s string) (string, error) {
	if _, err := signals.Parse(s); err != nil {
		return "", err
	}
	return strings.TrimSpace(s), nil
}
