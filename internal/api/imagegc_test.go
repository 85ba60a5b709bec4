package api_test

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/api/apitest"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// fakeManager is an Images backend that is also an api.ImageManager.
type fakeManager struct {
	calls chan string
}

func (m fakeManager) Load(context.Context, io.Reader) ([]types.Image, error)  { return nil, nil }
func (m fakeManager) Save(context.Context, io.Writer, []string, string) error { return nil }
func (m fakeManager) List(context.Context) ([]types.Image, error)             { return nil, nil }
func (m fakeManager) Remove(context.Context, string, bool) error {
	return errors.New("Remove called instead of RemoveImage")
}

func (m fakeManager) RemoveImage(ctx context.Context, ref string, force bool) (types.ImageDeleteResponse, error) {
	switch {
	case ref == "used":
		return types.ImageDeleteResponse{}, errdefs.Conflict("unable to remove repository reference \"used\" (must force) - pod web is using its referenced image 0123")
	case force:
		return types.ImageDeleteResponse{Untagged: []string{"reg:5000/a/b:1"}, Deleted: "sha256:ab", Reclaimed: 4096}, nil
	}
	return types.ImageDeleteResponse{Untagged: []string{ref}}, nil
}

func (m fakeManager) TagImage(ctx context.Context, source, target string) error {
	m.calls <- "tag " + source + " " + target
	return nil
}

func (m fakeManager) PruneImages(ctx context.Context, all bool) (types.ImagePruneResponse, error) {
	if !all {
		return types.ImagePruneResponse{}, nil
	}
	return types.ImagePruneResponse{Images: []types.ImageDeleteResponse{{Untagged: []string{"a:1"}, Deleted: "sha256:aa"}}, Reclaimed: 8192}, nil
}

func (m fakeManager) DiskUsage(ctx context.Context) (types.DiskUsage, error) {
	return types.DiskUsage{Images: types.DiskUsageEntry{Count: 2, Active: 1, Size: 100, Reclaimable: 40}, Blobs: types.DiskUsageEntry{Count: 7, Size: 60}}, nil
}

func (m fakeManager) PushImage(ctx context.Context, ref string, progress func(types.PushEvent)) (types.PushEvent, error) {
	if ref == "denied" {
		return types.PushEvent{}, errdefs.Unavailable("registry down")
	}
	progress(types.PushEvent{Status: "pushing", Current: 1, Total: 2})
	progress(types.PushEvent{Status: "pushing", Current: 2, Total: 2})
	return types.PushEvent{Name: ref, Digest: "sha256:cd", Size: 527}, nil
}

func startImages(t *testing.T, images api.Images) *client.Client {
	t.Helper()
	c := client.New(apitest.Serve(t, api.Backend{Images: images}, nil))
	t.Cleanup(func() { c.Close() })
	return c
}

func TestImageManager(t *testing.T) {
	m := fakeManager{calls: make(chan string, 10)}
	c := startImages(t, m)
	ctx := ctxT(t)

	res, err := c.RemoveImageReport(ctx, "reg:5000/a/b:1", true)
	if err != nil || !reflect.DeepEqual(res, types.ImageDeleteResponse{Untagged: []string{"reg:5000/a/b:1"}, Deleted: "sha256:ab", Reclaimed: 4096}) {
		t.Fatalf("rmi -f: %+v %v", res, err)
	}
	if res, err := c.RemoveImageReport(ctx, "x", false); err != nil || len(res.Untagged) != 1 || res.Deleted != "" {
		t.Fatalf("rmi: %+v %v", res, err)
	}
	if _, err := c.RemoveImageReport(ctx, "used", false); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "pod web") {
		t.Fatalf("rmi used: %v", err)
	}
	if err := c.RemoveImage(ctx, "y", false); err != nil {
		t.Fatalf("RemoveImage against a reporting server: %v", err)
	}

	if err := c.TagImage(ctx, "busybox", "reg:5000/bb:1"); err != nil || <-m.calls != "tag busybox reg:5000/bb:1" {
		t.Fatalf("tag: %v", err)
	}
	if pr, err := c.PruneImages(ctx, false); err != nil || pr.Images == nil || len(pr.Images) != 0 || pr.Reclaimed != 0 {
		t.Fatalf("prune: %+v %v", pr, err)
	}
	if pr, err := c.PruneImages(ctx, true); err != nil || len(pr.Images) != 1 || pr.Reclaimed != 8192 {
		t.Fatalf("prune -a: %+v %v", pr, err)
	}
	if du, err := c.DiskUsage(ctx); err != nil || du.Images.Count != 2 || du.Blobs.Size != 60 {
		t.Fatalf("df: %+v %v", du, err)
	}
	var evs []types.PushEvent
	pe, err := c.PushImage(ctx, "reg:5000/bb:1", func(ev types.PushEvent) { evs = append(evs, ev) })
	if err != nil || pe.Digest != "sha256:cd" || pe.Size != 527 || len(evs) != 2 || evs[1].Current != 2 {
		t.Fatalf("push: %+v %v events %+v", pe, err, evs)
	}
	if _, err := c.PushImage(ctx, "denied", nil); !errors.Is(err, errdefs.ErrUnavailable) || err.Error() != "registry down" {
		t.Fatalf("push failure: %v", err)
	}
	if _, err := c.PushImage(ctx, "", nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("push without ref: %v", err)
	}
	if err := c.TagImage(ctx, "busybox", ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("tag without target: %v", err)
	}
}

// A backend without ImageManager: the new endpoints are 404, rmi still 204.
func TestImageManagerMissing(t *testing.T) {
	c := startImages(t, plainImages{})
	ctx := ctxT(t)
	if _, err := c.DiskUsage(ctx); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("df: %v", err)
	}
	if _, err := c.PruneImages(ctx, true); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("prune: %v", err)
	}
	if res, err := c.RemoveImageReport(ctx, "busybox", false); err != nil || res.Deleted != "" || len(res.Untagged) != 0 {
		t.Fatalf("rmi: %+v %v", res, err)
	}
}

type plainImages struct{ fakeManager }

// Hide the ImageManager methods.
func (plainImages) RemoveImage() {}

func (plainImages) Remove(context.Context, string, bool) error { return nil }
