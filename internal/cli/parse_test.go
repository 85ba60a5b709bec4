package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseMemoryMB(t *testing.T) {
	for in, want := range map[string]int{
		"512m": 512, "512M": 512, "512mb": 512, "512MiB": 512, "1g": 1024, "1G": 1024, "1gb": 1024,
		"1.5g": 1536, "2048k": 2, "2049k": 3, "300": 300, "1t": 1 << 20, "1048576b": 1, "1b": 1, " 64m ": 64,
	} {
		got, err := parseMemoryMB(in)
		if err != nil || got != want {
			t.Errorf("parseMemoryMB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "0", "0m", "-1g", "12x", "1.2.3g", "1i", "1 gigabyte", "abc"} {
		if got, err := parseMemoryMB(in); err == nil {
			t.Errorf("parseMemoryMB(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseEnv(t *testing.T) {
	in := "\xef\xbb\xbf# comment\n\nA=1\n  B=  spaced value \nEMPTY=\nFROM_HOST \nUNSET\n   # indented comment\nC=a=b\n"
	lookup := func(k string) (string, bool) {
		if k == "FROM_HOST" {
			return "host value", true
		}
		return "", false
	}
	got, err := parseEnv(strings.NewReader(in), "f", lookup)
	if err != nil {
		t.Fatal(err)
	}
	// Values are verbatim; names lose leading space (and a bare name its
	// trailing space), as docker's --env-file.
	want := []string{"A=1", "B=  spaced value ", "EMPTY=", "FROM_HOST=host value", "C=a=b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"=novar\n", "MY VAR=1\n", "B =1\n", "ok=1\n\xff\xfe=2\n"} {
		if got, err := parseEnv(strings.NewReader(bad), "f", lookup); err == nil {
			t.Errorf("parseEnv(%q) = %q, want an error", bad, got)
		}
	}
	// From a file.
	name := filepath.Join(t.TempDir(), "env")
	os.WriteFile(name, []byte("X=1\r\nY=2\n"), 0o644)
	got, err = parseEnvFile(name)
	if err != nil || !reflect.DeepEqual(got, []string{"X=1", "Y=2"}) { // CRLF files work
		t.Errorf("file: %q %v", got, err)
	}
	if _, err := parseEnvFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing env file: no error")
	}
}

func TestExpandEnv(t *testing.T) {
	lookup := func(k string) (string, bool) { return "v", k == "SET" }
	got, err := expandEnv([]string{"A=1", "SET", "UNSET", "B="}, lookup)
	if err != nil || !reflect.DeepEqual(got, []string{"A=1", "SET=v", "B="}) {
		t.Errorf("got %q %v", got, err)
	}
	if _, err := expandEnv([]string{"=x"}, lookup); err == nil {
		t.Error("no name: no error")
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                         now.Add(-10 * time.Minute),
		"1h30m":                       now.Add(-90 * time.Minute),
		"2024-01-02T03:04:05Z":        time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02T03:04:05.5+02:00": time.Date(2024, 1, 2, 1, 4, 5, 5e8, time.UTC),
		"1700000000":                  time.Unix(1700000000, 0),
		"1700000000.25":               time.Unix(1700000000, 25e7),
		"2024-01-02":                  time.Date(2024, 1, 2, 0, 0, 0, 0, time.Local),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "-5m", "1.", "2024-13-01", "1.1234567890"} {
		if got, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseTail(t *testing.T) {
	for in, want := range map[string]int{"all": 0, "": 0, "5": 5, "0": -1} {
		if got, err := parseTail(in); err != nil || got != want {
			t.Errorf("parseTail(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "x", "1.5"} {
		if _, err := parseTail(in); err == nil {
			t.Errorf("parseTail(%q): no error", in)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, in := range []string{"KILL", "SIGTERM", "int", "9", "USR1", "SIGRTMIN+3"} {
		if _, err := parseSignal(in); err != nil {
			t.Errorf("parseSignal(%q): %v", in, err)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "99", "TERM9"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q): no error", in)
		}
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels([]string{"a=b", "c", "d=e=f"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"a": "b", "c": "", "d": "e=f"}) {
		t.Errorf("got %v %v", got, err)
	}
	if _, err := parseLabels([]string{"=x"}); err == nil {
		t.Error("no key: no error")
	}
}
