package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// managerImages adds api.ImageManager to fakeImages.
type managerImages struct{ fakeImages }

func (managerImages) RemoveImage(ctx context.Context, ref string, force bool) (types.ImageDeleteResponse, error) {
	switch ref {
	case "used":
		return types.ImageDeleteResponse{}, errdefs.Conflict("unable to remove repository reference \"used\" (must force) - pod web is using its referenced image 0123")
	case "two":
		return types.ImageDeleteResponse{Untagged: []string{"two:latest"}}, nil
	}
	return types.ImageDeleteResponse{Untagged: []string{ref + ":latest"}, Deleted: "sha256:" + strings.Repeat("ab", 32)}, nil
}

func (managerImages) TagImage(ctx context.Context, source, target string) error {
	if source != "busybox" {
		return errdefs.NotFound("no such image: %s", source)
	}
	return nil
}

func (managerImages) PruneImages(ctx context.Context, all bool) (types.ImagePruneResponse, error) {
	if !all {
		return types.ImagePruneResponse{Images: []types.ImageDeleteResponse{}}, nil
	}
	return types.ImagePruneResponse{Images: []types.ImageDeleteResponse{{Untagged: []string{"a:1"}, Deleted: "sha256:aa"}}, Reclaimed: 2_500_000}, nil
}

func (managerImages) DiskUsage(ctx context.Context) (types.DiskUsage, error) {
	return types.DiskUsage{
		Images: types.DiskUsageEntry{Count: 3, Active: 1, Size: 10_000_000, Reclaimable: 2_500_000},
		Rootfs: types.DiskUsageEntry{Count: 2, Active: 1, Size: 6_000_000, Reclaimable: 3_000_000},
		Blobs:  types.DiskUsageEntry{Count: 9, Active: 3, Size: 4_000_000},
	}, nil
}

func (managerImages) PushImage(ctx context.Context, ref string, progress func(types.PushEvent)) (types.PushEvent, error) {
	progress(types.PushEvent{Status: "pushing", Current: 1, Total: 1})
	return types.PushEvent{Name: ref, Digest: "sha256:cd", Size: 527}, nil
}

func serveManager(t *testing.T) string {
	t.Helper()
	f := newFakeDaemon()
	b := api.Backend{Pods: f, Streams: f, Execs: f, Images: managerImages{fakeImages{f}}, System: f}
	return "unix://" + apitest.Serve(t, b, nil)
}

func TestImageManagement(t *testing.T) {
	host := serveManager(t)
	id := "sha256:" + strings.Repeat("ab", 32)

	r := hyperctl(t, host, "", "rmi", "busybox", "two", "used")
	if r.code != 1 || r.out != "Untagged: busybox:latest\nDeleted: "+id+"\nUntagged: two:latest\n" ||
		!strings.Contains(r.err, "pod web is using") {
		t.Errorf("rmi: %+v", r)
	}
	if r := hyperctl(t, host, "", "tag", "busybox", "reg:5000/bb:1"); r.code != 0 || r.out != "" {
		t.Errorf("tag: %+v", r)
	}
	if r := hyperctl(t, host, "", "tag", "nope", "x"); r.code != 1 || r.err != "hyperctl: no such image: nope\n" {
		t.Errorf("tag missing: %+v", r)
	}
	if r := hyperctl(t, host, "", "tag", "busybox"); r.code != 125 {
		t.Errorf("tag one arg: %+v", r)
	}

	// prune asks first; -f does not.
	if r := hyperctl(t, host, "n\n", "image", "prune", "-a"); r.code != 0 || !strings.Contains(r.out, "Are you sure") || strings.Contains(r.out, "Total") {
		t.Errorf("prune declined: %+v", r)
	}
	if r := hyperctl(t, host, "y\n", "image", "prune"); r.code != 0 || !strings.HasSuffix(r.out, "Total reclaimed space: 0B\n") {
		t.Errorf("prune: %+v", r)
	}
	r = hyperctl(t, host, "", "image", "prune", "-a", "-f")
	if r.code != 0 || r.out != "Deleted Images:\nuntagged: a:1\ndeleted: sha256:aa\n\nTotal reclaimed space: 2.5MB\n" {
		t.Errorf("prune -a -f: %+v", r)
	}

	r = hyperctl(t, host, "", "system", "df")
	want := []string{
		"TYPE     TOTAL   ACTIVE   SIZE   RECLAIMABLE",
		"Images   3       1        10MB   2.5MB (25%)",
		"Rootfs   2       1        6MB    3MB (50%)",
		"Blobs    9       3        4MB    0B (0%)",
	}
	if r.code != 0 || r.out != strings.Join(want, "\n")+"\n" {
		t.Errorf("system df:\n%s\nwant:\n%s\n%+v", r.out, strings.Join(want, "\n"), r)
	}
	if r := hyperctl(t, host, "", "system", "df", "--format", "{{.Images.Count}} {{.Blobs.Size}}"); r.code != 0 || r.out != "3 4000000\n" {
		t.Errorf("system df --format: %+v", r)
	}

	if r := hyperctl(t, host, "", "push", "reg:5000/bb:1"); r.code != 0 || r.out != "The push refers to reg:5000/bb:1\nreg:5000/bb:1: digest: sha256:cd size: 527\n" {
		t.Errorf("push: %+v", r)
	}
	if r := hyperctl(t, host, "", "push", "-q", "reg:5000/bb:1"); r.code != 0 || r.out != "sha256:cd\n" {
		t.Errorf("push -q: %+v", r)
	}
}
