package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hyperhq/hyper/internal/api/types"
)

func (h *hyperd) df() types.DiskUsage {
	h.t.Helper()
	var du types.DiskUsage
	if err := json.Unmarshal([]byte(h.ok("system", "df", "--format", "json")), &du); err != nil {
		h.t.Fatal(err)
	}
	return du
}

// TestImageLifecycle: tag, rmi refused while a pod uses the image, rmi
// once the pod is gone, prune, and system df following along.
func TestImageLifecycle(t *testing.T) {
	h := newHyperd(t)
	h.loadBusybox()
	id := strings.TrimSpace(h.ok("images", "-q", "--no-trunc"))
	du := h.df()
	if du.Images.Count != 1 || du.Images.Active != 0 || du.Rootfs.Count != 1 || du.Blobs.Count < 3 ||
		du.Images.Size != du.Blobs.Size+du.Rootfs.Size || du.Images.Reclaimable != du.Images.Size {
		t.Fatalf("df after load: %+v", du)
	}
	h.ok("tag", "busybox", "mybox:1")
	h.ok("run", "-d", "--name", "web", "mybox:1", "sleep", "1000")
	du = h.df()
	if du.Images.Count != 1 || du.Images.Active != 1 || du.Rootfs.Count != 1 || du.Rootfs.Size <= 0 || du.Images.Reclaimable != 0 ||
		du.Images.Size != du.Blobs.Size+du.Rootfs.Size {
		t.Fatalf("df with a running pod: %+v", du)
	}

	if out := h.ok("rmi", "busybox"); out != "Untagged: busybox:latest\n" {
		t.Fatalf("rmi of one of two names: %q", out)
	}
	if out, errs, code := h.run("", "rmi", "mybox:1"); code != 1 || !strings.Contains(errs, "pod web") {
		t.Fatalf("rmi of an image a pod uses: %q %q %d", out, errs, code)
	}
	if out, errs, code := h.run("", "rmi", "-f", id); code != 1 || !strings.Contains(errs, "cannot be forced") {
		t.Fatalf("rmi -f by ID under a running pod: %q %q %d", out, errs, code)
	}
	if out, errs, code := h.run("", "image", "prune", "-a", "-f"); code != 0 || out != "Total reclaimed space: 0B\n" {
		t.Fatalf("prune with the image in use: %q %q %d", out, errs, code)
	}

	h.ok("rm", "-f", "web")
	if out := h.ok("rmi", "mybox:1"); out != "Untagged: mybox:1\nDeleted: "+id+"\n" {
		t.Fatalf("rmi once the pod is gone: %q", out)
	}
	if du := h.df(); du != (types.DiskUsage{}) {
		t.Fatalf("df of an empty store: %+v", du)
	}

	// prune: a named image is not dangling; -a removes it.
	h.loadBusybox()
	id = strings.TrimSpace(h.ok("images", "-q", "--no-trunc"))
	if out := h.ok("image", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Fatalf("prune of no dangling image: %q", out)
	}
	out := h.ok("image", "prune", "-a", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\nuntagged: busybox:latest\ndeleted: "+id+"\n") || strings.Contains(out, "space: 0B") {
		t.Fatalf("prune -a: %q", out)
	}
	if du := h.df(); du != (types.DiskUsage{}) {
		t.Fatalf("df after prune: %+v", du)
	}
	if out := h.ok("images", "-q"); out != "" {
		t.Fatalf("images after prune: %q", out)
	}
}
