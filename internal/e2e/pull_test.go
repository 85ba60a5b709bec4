package e2e

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/hyperhq/hyper/internal/devimage"
	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// TestPullAndRun pulls busybox from a real registry (docker-registry) with
// hyperctl, then runs it.
func TestPullAndRun(t *testing.T) {
	reg := it.StartRegistry(t, it.RegistryOptions{})
	var buf bytes.Buffer
	if err := devimage.BusyboxArchive(&buf, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("busybox:latest")
	img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, &tag)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg + "/busybox:latest"
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // hyperd inherits it: no credentials
	h := newHyperdConfig(t, "[registry]\ninsecure = [\""+reg+"\"]\n")
	if out := h.ok("pull", ref); !strings.Contains(out, "Pulled "+ref) {
		t.Fatalf("pull said %q", out)
	}
	if out := h.ok("run", "--rm", "--pull", "never", ref, "echo", "pulled and ran"); out != "pulled and ran\n" {
		t.Fatalf("run said %q", out)
	}
	if out, errs, code := h.run("", "pull", reg+"/busybox:nope"); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("pull of a missing tag: %q %q %d", out, errs, code)
	}
}
