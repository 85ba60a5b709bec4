package daemon

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/protocol"
)

var serialSyntax = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,20}$`)

func TestImageSerial(t *testing.T) {
	id := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	if got := imageSerial(id); got != "i-0123456789abcdef01" {
		t.Errorf("imageSerial(%s) = %q", id, got)
	}
	for _, odd := range []string{"", "sha256:abc", "sha512:" + strings.Repeat("f", 128), "sha256:" + strings.Repeat("Z", 64)} {
		s := imageSerial(odd)
		if !serialSyntax.MatchString(s) || s != imageSerial(odd) {
			t.Errorf("imageSerial(%q) = %q: not a stable, valid serial", odd, s)
		}
	}
	if imageSerial("sha256:abc") == imageSerial("sha256:abd") {
		t.Error("distinct odd IDs share a serial")
	}
}

func ctrs(ids ...string) []types.Container {
	var cs []types.Container
	for i, id := range ids {
		cs = append(cs, types.Container{Name: string(rune('a' + i)), ImageID: id})
	}
	return cs
}

func TestRunSerials(t *testing.T) {
	rec := record{Pod: types.Pod{InitContainers: ctrs("sha256:i"), Containers: ctrs("sha256:x", "sha256:i", "sha256:y", "sha256:x")}}
	// A record of an older hyperd: disks numbered in boot order.
	want := map[string]string{"sha256:i": "img0", "sha256:x": "img1", "sha256:y": "img2"}
	if got := runSerials(rec); !equal(got, want) {
		t.Errorf("legacy serials %v, want %v", got, want)
	}
	ids, serials := bootSerials(rec)
	if strings.Join(ids, " ") != "sha256:i sha256:x sha256:y" {
		t.Errorf("boot order %v", ids)
	}
	for id, s := range serials {
		if s != imageSerial(id) {
			t.Errorf("boot serial of %s: %s", id, s)
		}
	}
	rec.Serials = serials
	rec.Containers = rec.Containers[1:] // a removal changes nothing
	if got := runSerials(rec); !equal(got, serials) {
		t.Errorf("recorded serials %v, want %v", got, serials)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestAppendDropContainer(t *testing.T) {
	rec := record{Pod: types.Pod{Name: "web", State: stateExited, Containers: ctrs("sha256:x", "sha256:y"),
		Spec: types.PodSpec{Containers: []types.ContainerSpec{{Name: "a"}, {Name: "b"}}}},
		Procs: []protocol.ProcessSpec{{Args: []string{"a"}}, {Args: []string{"b"}}}}
	rec.Pod.InitContainers = []types.Container{{Name: "web-init-0", Init: true}}
	p := newPod(rec)
	snap := p.rec // what a concurrent save or inspect holds
	if n := p.freeName("web"); n != "web-1" {
		t.Errorf("free name %q", n)
	}
	p.appendContainer(types.ContainerSpec{Name: "web-1"}, types.Container{Name: "web-1", ImageID: "sha256:z"},
		protocol.ProcessSpec{Args: []string{"z"}})
	if !p.hasContainer("web-1") || p.freeName("web") != "web-2" || !p.hasContainer("web-init-0") || p.hasContainer("") {
		t.Error("names after append")
	}
	if !isClosed(p.ctrs[2].done) {
		t.Error("a container added to an exited pod is not done")
	}
	p.dropContainer("a")
	if len(p.rec.Containers) != 2 || p.rec.Containers[0].Name != "b" || p.rec.Spec.Containers[1].Name != "web-1" ||
		p.rec.Procs[1].Args[0] != "z" || len(p.ctrs) != 2 || len(p.outs) != 2 {
		t.Errorf("after drop: %+v %+v %+v", p.rec.Containers, p.rec.Spec.Containers, p.rec.Procs)
	}
	if len(snap.Containers) != 2 || snap.Containers[0].Name != "a" || snap.Procs[0].Args[0] != "a" {
		t.Errorf("a snapshot changed: %+v", snap.Containers)
	}
	p.dropContainer("nosuch") // no-op
	if got := distinctImages(p.rec.InitContainers, p.rec.Containers, ctrs("sha256:y")); len(got) != 3 {
		t.Errorf("distinct images %v", got)
	}
}

func TestRunRefs(t *testing.T) {
	r := newRunRefs()
	if !r.hold() {
		t.Fatal("hold of a live run")
	}
	r.release()
	if isClosed(r.done) {
		t.Fatal("ended while supervise holds it")
	}
	r.release()
	if !isClosed(r.done) || r.hold() {
		t.Fatal("an ended run is held again")
	}
	var none *runRefs
	if none.hold() {
		t.Fatal("hold of no run")
	}
}
