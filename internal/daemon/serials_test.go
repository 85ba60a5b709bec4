package daemon

import (
	"reflect"
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
	serials := map[string]string{}
	for _, id := range distinctImages(rec.InitContainers, rec.Containers) {
		serials[id] = imageSerial(id)
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

// TestRecordRoundTrip: a record read at start and written back by its
// sandbox's status is the same record.
func TestRecordRoundTrip(t *testing.T) {
	rec := record{Pod: types.Pod{ID: strings.Repeat("ab", 32), Name: "web", State: stateExited, ExitCode: 3, Reason: "why",
		Containers: ctrs("sha256:x", "sha256:y"), InitContainers: []types.Container{{Name: "web-init-0", ImageID: "sha256:i", Init: true, State: stateExited}},
		Spec: types.PodSpec{Containers: []types.ContainerSpec{{Name: "a"}, {Name: "b", RestartPolicy: "always"}},
			InitContainers: []types.ContainerSpec{{Name: "web-init-0"}}}},
		Procs: []protocol.ProcessSpec{{Args: []string{"a"}}, {Args: []string{"b"}}}, InitProcs: []protocol.ProcessSpec{{Args: []string{"i"}}},
		Serials: map[string]string{"sha256:x": "i-x"}}
	for i := range rec.Containers {
		rec.Containers[i].State = stateExited
	}
	d := &Daemon{}
	p := d.newPod(rec)
	got := p.record(p.sb.Status())
	if !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rec)
	}
}
