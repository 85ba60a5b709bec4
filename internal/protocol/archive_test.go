package protocol

import (
	"strings"
	"testing"
)

func TestCleanArchiveName(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "./a/": "a", "/etc/passwd": "etc/passwd", "/../x": "x", ".": ".", "/": ".", "a/./b/../c": "a/c",
	} {
		if got, err := CleanArchiveName(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "a\x00b", strings.Repeat("a", MaxArchiveName+1)} {
		if got, err := CleanArchiveName(in); err == nil {
			t.Errorf("%q: %q, no error", in, got)
		}
	}
}

// FuzzCleanArchiveName: a clean name is relative, clean and never climbs.
func FuzzCleanArchiveName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/..", "a/../..", "./", "//a//b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := CleanArchiveName(s)
		if err != nil {
			return
		}
		if strings.HasPrefix(n, "/") || n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") || strings.HasSuffix(n, "/..") {
			t.Fatalf("%q -> %q", s, n)
		}
	})
}
