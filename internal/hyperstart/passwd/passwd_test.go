package passwd

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/protocol"
)

const passwdFile = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

bad:x:notanumber:1::/:/bin/sh
short:x:5
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
noh:x:1001:1001:::/bin/sh
`

const groupFile = `root:x:0:
daemon:x:1:app
wheel:x:10:root,app
app:x:1000:
staff:x:50: app , other
bad:x:-1:app
`

func parse(t *testing.T) ([]User, []Group) {
	t.Helper()
	u, err := ParsePasswd(strings.NewReader(passwdFile))
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGroup(strings.NewReader(groupFile))
	if err != nil {
		t.Fatal(err)
	}
	return u, g
}

func TestParse(t *testing.T) {
	u, g := parse(t)
	if len(u) != 5 {
		t.Fatalf("users: %+v", u)
	}
	if u[3] != (User{Name: "app", UID: 1000, GID: 1000, Home: "/home/app"}) {
		t.Fatalf("app: %+v", u[3])
	}
	if len(g) != 5 || !reflect.DeepEqual(g[4].Members, []string{"app", "other"}) {
		t.Fatalf("groups: %+v", g)
	}
}

func TestResolve(t *testing.T) {
	u, g := parse(t)
	tests := []struct {
		spec string
		add  []string
		want Exec
	}{
		{"", nil, Exec{UID: 0, GID: 0, Home: "/root", Groups: []int{10}}},
		{"root", nil, Exec{UID: 0, GID: 0, Home: "/root", Groups: []int{10}}},
		{"app", nil, Exec{UID: 1000, GID: 1000, Home: "/home/app", Groups: []int{1, 10, 50}}},
		{"1000", nil, Exec{UID: 1000, GID: 1000, Home: "/home/app", Groups: []int{1, 10, 50}}},
		{"app:wheel", nil, Exec{UID: 1000, GID: 10, Home: "/home/app", Groups: []int{1, 10, 50}}},
		{"1000:42", []string{"wheel", "77"}, Exec{UID: 1000, GID: 42, Home: "/home/app", Groups: []int{1, 10, 50, 77}}},
		{"4242", nil, Exec{UID: 4242, GID: 0, Home: "/"}},
		{"4242:4242", []string{"daemon"}, Exec{UID: 4242, GID: 4242, Home: "/", Groups: []int{1}}},
		{"noh", nil, Exec{UID: 1001, GID: 1001, Home: "/"}},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.spec, tt.add, u, g)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.spec, got, tt.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	u, g := parse(t)
	for _, tc := range []struct {
		spec string
		add  []string
	}{
		{"nosuch", nil},
		{"app:nosuch", nil},
		{"app:", nil},
		{"app", []string{"nosuch"}},
		{"-1", nil},
		{"99999999999", nil},
	} {
		_, err := Resolve(tc.spec, tc.add, u, g)
		if err == nil {
			t.Errorf("%q %v: no error", tc.spec, tc.add)
			continue
		}
		if errs.Code(err) != protocol.CodeInvalidArgument {
			t.Errorf("%q: code %s", tc.spec, errs.Code(err))
		}
	}
}

func TestHostile(t *testing.T) {
	long := strings.Repeat("a", MaxLine*3)
	in := long + ":x:1:1::/:/bin/sh\nok:x:2:2::/:/bin/sh\n" + long + "\n"
	u, err := ParsePasswd(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(u) != 1 || u[0].Name != "ok" {
		t.Fatalf("got %+v", u)
	}
	huge := strings.NewReader(strings.Repeat("x:x:1:1::/:/bin/sh\n", MaxFileSize/10))
	if _, err := ParsePasswd(huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("huge: %v", err)
	}
	manyMembers := "g:x:5:" + strings.Repeat("m,", 2000) + "\n"
	g, err := ParseGroup(strings.NewReader(manyMembers))
	if err != nil || len(g) != 1 || len(g[0].Members) != MaxMembers {
		t.Fatalf("members: %v %d", err, len(g))
	}
	if u, _ := ParsePasswd(strings.NewReader("a\x00b:x:1:1::/:/bin/sh\n")); len(u) != 0 {
		t.Fatalf("NUL line accepted: %+v", u)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "passwd")
	if err := os.WriteFile(p, []byte(passwdFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := ResolveFiles("app", nil, p, filepath.Join(dir, "missing"))
	if err != nil || ex.UID != 1000 || ex.Groups != nil {
		t.Fatalf("%+v %v", ex, err)
	}
	if _, err := ResolveFiles("app", nil, dir, p); err == nil {
		t.Fatal("directory accepted as passwd")
	}
}

func FuzzParsePasswd(f *testing.F) {
	f.Add([]byte(passwdFile))
	f.Add([]byte("root:x:0:0::/root:/bin/sh"))
	f.Add([]byte(":::::::\n\n#\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, err := ParsePasswd(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, u := range users {
			if u.UID < 0 || u.GID < 0 || u.Name == "" {
				t.Fatalf("bad user %+v", u)
			}
		}
		_, _ = Resolve("root", nil, users, nil)
	})
}

func FuzzResolve(f *testing.F) {
	f.Add([]byte(groupFile), "app:wheel", "staff")
	f.Add([]byte("g:x:1:a,b,,c\n"), "1:1", "g")
	f.Fuzz(func(t *testing.T, b []byte, spec, add string) {
		groups, err := ParseGroup(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		users, _ := ParsePasswd(strings.NewReader(string(b)))
		ex, err := Resolve(spec, []string{add}, users, groups)
		if err == nil && (ex.UID < 0 || ex.GID < 0 || len(ex.Groups) > MaxGroups) {
			t.Fatalf("bad exec %+v", ex)
		}
	})
}
