package endpoint

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Host{
		"unix:///run/hyper/hyper.sock": {Unix, "/run/hyper/hyper.sock"},
		"/tmp/h.sock":                  {Unix, "/tmp/h.sock"},
		"tcp://127.0.0.1:2376":         {TCP, "127.0.0.1:2376"},
		"tcp://[::1]:2376/":            {TCP, "[::1]:2376"},
		"tcp://:2376":                  {TCP, ":2376"},
		"tcp://hyper.example:1":        {TCP, "hyper.example:1"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
			continue
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("Parse(%q.String()) = %v, %v", in, again, err)
		}
	}
	for _, in := range []string{"", "unix://", "unix://rel", "tcp://1.2.3.4", "tcp://1.2.3.4:-1", "tcp://1.2.3.4:99999",
		"tcp://h:1/path", "tcp://u@h:1", "tcp://h:1?x=1", "http://h:1", "fd://"} {
		if h, err := Parse(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Parse(%q) = %v, %v; want an invalid argument", in, h, err)
		}
	}
	if h, err := Parse("h.sock"); err != nil || h.Network != Unix || !filepath.IsAbs(h.Address) {
		t.Errorf("relative path: %v, %v", h, err)
	}
	if n := (Host{TCP, "[::1]:2376"}).Name(); n != "::1" {
		t.Errorf("Name = %q", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"unix:///a", "/a", "tcp://127.0.0.1:2376", "tcp://[::1]:1/", "tcp://h:1?x", "tcp://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if again, err := Parse(h.String()); err != nil || again != h {
			t.Fatalf("Parse(%q) = %v; of its String: %v, %v", s, h, again, err)
		}
	})
}
