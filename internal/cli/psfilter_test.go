package cli

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestPsFilter(t *testing.T) {
	mk := func(id, name, state, image string, labels map[string]string) types.Pod {
		return types.Pod{ID: id, Name: name, State: state, Spec: types.PodSpec{Labels: labels},
			Containers: []types.Container{{Name: "c", Image: image, ImageID: "sha256:abcdef" + id}}}
	}
	pods := []types.Pod{
		mk("aaa1", "web-1", types.StateRunning, "nginx:1.25", map[string]string{"tier": "fe"}),
		mk("aaa2", "web-2", types.StateExited, "docker.io/library/busybox:latest", map[string]string{"tier": "fe", "x": ""}),
		mk("bbb3", "db", types.StateFailed, "busybox", map[string]string{"tier": "be"}),
	}
	for _, tc := range []struct {
		filters []string
		n       int
		want    []string
	}{
		{nil, -1, []string{"web-1", "web-2", "db"}},
		{[]string{"status=exited"}, -1, []string{"web-2"}},
		{[]string{"status=exited", "status=running"}, -1, []string{"web-1", "web-2"}},
		{[]string{"status=dead"}, -1, []string{"db"}},
		{[]string{"status=paused"}, -1, nil},
		{[]string{"name=web"}, -1, []string{"web-1", "web-2"}},
		{[]string{"name=web", "status=running"}, -1, []string{"web-1"}},
		{[]string{"label=tier=fe"}, -1, []string{"web-1", "web-2"}},
		{[]string{"label=x"}, -1, []string{"web-2"}},
		{[]string{"label=tier=be", "label=x"}, -1, []string{"web-2", "db"}},
		{[]string{"ancestor=busybox"}, -1, []string{"web-2", "db"}},
		{[]string{"ancestor=busybox:latest"}, -1, []string{"web-2", "db"}},
		{[]string{"ancestor=nginx"}, -1, nil}, // nginx:1.25 is not nginx:latest
		{[]string{"ancestor=nginx:1.25"}, -1, []string{"web-1"}},
		{[]string{"ancestor=sha256:abcdefbbb3"}, -1, []string{"db"}},
		{[]string{"id=aaa"}, -1, []string{"web-1", "web-2"}},
		{nil, 1, []string{"web-1"}},
		{[]string{"id=aaa"}, 0, nil},
	} {
		f, err := parsePsFilter(tc.filters)
		if err != nil {
			t.Fatalf("%v: %v", tc.filters, err)
		}
		var got []string
		for _, p := range selectPods(pods, f, tc.n) {
			got = append(got, p.Name)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
			t.Errorf("%v -n %d: %v, want %v", tc.filters, tc.n, got, tc.want)
		}
	}
	for _, bad := range []string{"status", "color=red", "status=sleeping"} {
		if _, err := parsePsFilter([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if f, _ := parsePsFilter([]string{"status=exited"}); !f.needsAll() {
		t.Error("a status filter should list all pods")
	}
	row := newPsRow(pods[0], false, time.Now())
	if row.Size != "N/A" {
		t.Errorf("Size %q", row.Size)
	}
}
