package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	it "github.com/hyperhq/hyper/internal/image/imagetest"
)

// TestDebianNginx runs a real service from a real distribution: a minimal
// Debian bookworm with nginx-light (debootstrap, cached once per machine
// under /var/cache/hyper), made into a one-layer image, pushed to a real
// registry, pulled with hyperctl, run with a published port, and asked
// for its welcome page over HTTP from the host.
func TestDebianNginx(t *testing.T) {
	h := newHyperdForRegistry(t)
	rootfs := it.DebianRootfs(t, "bookworm", "nginx-light")
	cfg := v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: it.Epoch.UTC()},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			ExposedPorts: map[string]struct{}{"80/tcp": {}},
			StopSignal:   "SIGQUIT",
		},
	}
	img := it.DirImage(t, rootfs, cfg)
	ref := h.reg + "/debian/nginx:bookworm"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	if out := h.ok("pull", ref); !strings.Contains(out, "Pulled "+ref) {
		t.Fatalf("pull said %q", out)
	}
	port := "18081"
	if l, err := net.Listen("tcp4", "127.0.0.1:"+port); err != nil {
		port = strconv.Itoa(freePorts(t, 1)) // 18081 is taken on this machine
	} else {
		l.Close()
	}
	h.ok("run", "-d", "--name", "nginx", "--pull", "never", "-p", "127.0.0.1:"+port+":80", ref)
	body := httpGet(t, "http://127.0.0.1:"+port+"/", 90*time.Second)
	if !strings.Contains(body, "Welcome to nginx!") {
		t.Fatalf("GET / answered %q", body)
	}
	if out := h.ok("port", "nginx"); strings.TrimSpace(out) != "80/tcp -> 127.0.0.1:"+port {
		t.Errorf("port said %q", out)
	}
	h.ok("rm", "-f", "nginx")
}

// registryHyperd is a hyperd that trusts a real registry it runs beside.
type registryHyperd struct {
	*hyperd
	reg string
}

func newHyperdForRegistry(t *testing.T) registryHyperd {
	t.Helper()
	reg := it.StartRegistry(t, it.RegistryOptions{})
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // hyperd inherits it: no credentials
	return registryHyperd{newHyperdConfig(t, "[registry]\ninsecure = [\""+reg+"\"]\n"), reg}
}
