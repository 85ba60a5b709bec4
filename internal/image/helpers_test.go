package image_test

import (
	"context"
	"io/fs"
	"os"
	"testing"

	erofs "github.com/erofs/go-erofs"
)

// checkErofsModes reads an EROFS image with go-erofs and checks full
// modes (with setuid, setgid, sticky) and extended attributes.
func checkErofsModes(t testing.TB, img string, modes map[string]fs.FileMode, xattrs map[string]map[string]string) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	efs, err := erofs.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	stat := func(p string) *erofs.Stat {
		fi, err := fs.Stat(efs, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return fi.Sys().(*erofs.Stat)
	}
	for p, m := range modes {
		if st := stat(p); st.Mode != m {
			t.Errorf("%s: mode %v, want %v", p, st.Mode, m)
		}
	}
	for p, want := range xattrs {
		st := stat(p)
		for k, v := range want {
			if st.Xattrs[k] != v {
				t.Errorf("%s: xattr %s = %q, want %q", p, k, st.Xattrs[k], v)
			}
		}
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
