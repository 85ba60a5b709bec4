package fstree_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	erofs "github.com/erofs/go-erofs"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/image/fstree"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// checkTree verifies what must hold for any tree built from any input:
// clean paths, no whiteout left, no symlink climbing out, and an EROFS
// image that go-erofs reads back with exactly the same paths.
func checkTree(t *testing.T, tr *fstree.Tree) {
	t.Helper()
	want := map[string]fs.FileMode{}
	err := tr.Walk(func(e fstree.Entry) error {
		if e.Path != "" {
			if c, err := fstree.CleanName(e.Path); err != nil || c != e.Path {
				t.Fatalf("unclean path %q (%v)", e.Path, err)
			}
			if strings.HasPrefix(path.Base(e.Path), fstree.WhiteoutPrefix) {
				t.Fatalf("whiteout left in tree: %q", e.Path)
			}
		}
		if e.Mode&fs.ModeSymlink != 0 && !strings.HasPrefix(e.Target, "/") {
			depth := strings.Count(e.Path, "/")
			for _, c := range strings.Split(e.Target, "/") {
				switch c {
				case "", ".":
				case "..":
					depth--
				default:
					depth++
				}
				if depth < 0 {
					t.Fatalf("symlink %q -> %q climbs out", e.Path, e.Target)
				}
			}
		}
		want[e.Path] = e.Mode.Type()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "erofs")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tr.WriteErofs(f, t.TempDir()); err != nil {
		t.Fatalf("write erofs: %v", err)
	}
	efs, err := erofs.Open(f)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	got := 0
	err = fs.WalkDir(efs, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			p = ""
		}
		typ, ok := want[p]
		if !ok {
			t.Fatalf("erofs has %q, the tree does not", p)
		}
		if d.Type() != typ {
			t.Fatalf("%q: erofs type %v, tree %v", p, d.Type(), typ)
		}
		got++
		return nil
	})
	if err != nil {
		t.Fatalf("walk erofs: %v", err)
	}
	if got != len(want) {
		t.Fatalf("erofs has %d entries, tree %d", got, len(want))
	}
}

// FuzzApply feeds raw bytes as two layers. Whatever they hold, Apply
// either succeeds with a sane tree or fails with an invalid-argument error.
func FuzzApply(f *testing.F) {
	ml := multiLayer(f)
	f.Add(ml[0], ml[1])
	f.Add(ml[1], ml[2])
	f.Add(it.Layer(f, it.File("../x", "", 0o644)), []byte{})
	f.Add(it.Layer(f, it.Symlink("a", "../../x")), []byte{})
	f.Add(it.Layer(f, it.File("a/b", "x", 0o644), it.Hardlink("c", "a/b")), it.Layer(f, it.Whiteout("a"), it.Opaque("c")))
	f.Add(it.Layer(f, it.Symlink("l", "/"), it.Dir("d", 0o755)), it.Layer(f, it.File("l/x", "", 0o644)))
	f.Add(it.Layer(f, it.Entry{Name: "s", Body: "ab", Size: 100}), []byte("junk"))
	f.Add(it.Gzip(f, ml[0]), []byte{})
	f.Fuzz(func(t *testing.T, l1, l2 []byte) {
		tr := newTree(t, fstree.Limits{MaxEntries: 1000, MaxContentBytes: 1 << 20})
		for _, l := range [][]byte{l1, l2} {
			if err := tr.Apply(bytes.NewReader(l)); err != nil {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("error of the wrong kind: %v", err)
				}
				return
			}
		}
		checkTree(t, tr)
	})
}

// model is a flat reference implementation of layer application, to check
// the tree's whiteout, opaque and replacement handling against.
type model struct {
	m     map[string]mentry
	layer int
}

type mentry struct {
	kind  byte // 'd', 'f', 'l' (symlink)
	layer int
}

func (m *model) under(p string) []string {
	var out []string
	for k := range m.m {
		if strings.HasPrefix(k, p+"/") {
			out = append(out, k)
		}
	}
	return out
}

func (m *model) removeTree(p string) {
	delete(m.m, p)
	for _, k := range m.under(p) {
		delete(m.m, k)
	}
}

// parents creates missing parent directories; false if one is not a dir.
func (m *model) parents(p string) bool {
	dir := path.Dir(p)
	if dir == "." {
		return true
	}
	var missing []string
	for d := dir; d != "."; d = path.Dir(d) {
		e, ok := m.m[d]
		if ok && e.kind != 'd' {
			return false
		}
		if !ok {
			missing = append(missing, d)
		}
	}
	for _, d := range missing {
		m.m[d] = mentry{'d', m.layer}
	}
	return true
}

func (m *model) put(p string, kind byte) bool {
	if !m.parents(p) {
		return false
	}
	if e, ok := m.m[p]; ok && e.kind == 'd' && kind == 'd' {
		m.m[p] = mentry{'d', m.layer}
		return true
	}
	m.removeTree(p)
	m.m[p] = mentry{kind, m.layer}
	return true
}

func (m *model) whiteout(p string) {
	if d := path.Dir(p); d != "." {
		if e, ok := m.m[d]; !ok || e.kind != 'd' {
			return
		}
	}
	if e, ok := m.m[p]; ok && e.layer != m.layer {
		m.removeTree(p)
	}
}

func (m *model) opaque(dir string) {
	if e, ok := m.m[dir]; !ok || e.kind != 'd' {
		return
	}
	keep := map[string]bool{}
	for _, k := range m.under(dir) {
		if m.m[k].layer == m.layer {
			for a := k; a != dir; a = path.Dir(a) {
				keep[a] = true
			}
		}
	}
	for _, k := range m.under(dir) {
		if !keep[k] {
			delete(m.m, k)
		}
	}
}

var fuzzNames = []string{"a", "b", "a/a", "a/b", "b/a", "a/a/a", "a/b/c", "c"}

// FuzzWhiteouts builds layers from op bytes (kind, name) over a small
// name space so that whiteouts, opaque directories, replacements and
// links collide often, and compares the merged tree with the model.
func FuzzWhiteouts(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 6, 0, 2, 0, 0, 4})
	f.Add([]byte{1, 0, 0, 2, 6, 0, 3, 0, 0, 3, 6, 0, 1, 2})
	f.Add([]byte{1, 6, 0, 7, 5, 2, 6, 0, 4, 0, 3, 0, 0, 0})
	f.Add([]byte{1, 5, 0, 3, 6, 0, 3, 3, 0, 0, 4, 0})
	f.Add([]byte{0, 7, 7, 7, 6, 0, 2, 7, 1, 7, 6, 0, 3, 1, 1, 5})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		var layers [][]it.Entry
		cur := []it.Entry{}
		type op struct {
			kind byte
			name string
		}
		var all [][]op
		var curOps []op
		for i := 0; i+1 < len(ops); i += 2 {
			kind := ops[i] % 7
			name := fuzzNames[int(ops[i+1])%len(fuzzNames)]
			var e it.Entry
			switch kind {
			case 0:
				e = it.File(name, name, 0o644)
			case 1:
				e = it.Dir(name+"/", 0o755)
			case 2:
				e = it.Whiteout(name)
			case 3:
				e = it.Opaque(name)
			case 4:
				e = it.Symlink(name, "target")
			case 5:
				e = it.Hardlink(name, fuzzNames[(int(ops[i+1])+1)%len(fuzzNames)])
			case 6:
				layers = append(layers, cur)
				all = append(all, curOps)
				cur, curOps = nil, nil
				continue
			}
			cur = append(cur, e)
			curOps = append(curOps, op{kind, name})
		}
		layers = append(layers, cur)
		all = append(all, curOps)

		tr := newTree(t, fstree.Limits{})
		m := &model{m: map[string]mentry{}}
		for li, l := range layers {
			m.layer = li + 1
			modelOK := true
			for i, o := range all[li] {
				switch o.kind {
				case 0:
					modelOK = m.put(o.name, 'f')
				case 1:
					modelOK = m.put(o.name, 'd')
				case 2:
					m.whiteout(o.name)
				case 3:
					m.opaque(o.name)
				case 4:
					modelOK = m.put(o.name, 'l')
				case 5:
					target := l[i].Link
					te, ok := m.m[target]
					if !ok || te.kind == 'd' {
						modelOK = false
					} else if target != o.name {
						modelOK = m.put(o.name, te.kind)
					}
				}
				if !modelOK {
					break
				}
			}
			err := tr.Apply(bytes.NewReader(it.Layer(t, l...)))
			if (err == nil) != modelOK {
				t.Fatalf("layer %d: tree error %v, model ok %v", li+1, err, modelOK)
			}
			if err != nil {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("error of the wrong kind: %v", err)
				}
				return
			}
		}
		got := map[string]byte{}
		tr.Walk(func(e fstree.Entry) error {
			if e.Path == "" {
				return nil
			}
			k := byte('f')
			switch {
			case e.Mode.IsDir():
				k = 'd'
			case e.Mode&fs.ModeSymlink != 0:
				k = 'l'
			}
			got[e.Path] = k
			return nil
		})
		var gs, ws []string
		for p, k := range got {
			gs = append(gs, p+":"+string(k))
		}
		for p, e := range m.m {
			ws = append(ws, p+":"+string(e.kind))
		}
		sort.Strings(gs)
		sort.Strings(ws)
		if strings.Join(gs, " ") != strings.Join(ws, " ") {
			t.Fatalf("tree  %v\nmodel %v", gs, ws)
		}
		checkTree(t, tr)
	})
}
