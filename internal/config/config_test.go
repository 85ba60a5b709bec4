package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hyperhq/hyper/internal/errdefs"
)

func TestDefaultsWithoutFile(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "none.toml"), false)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.toml"), true); err == nil {
		t.Fatal("missing explicit file accepted")
	}
}

func TestParse(t *testing.T) {
	c, err := Parse("root = \"/srv/hyper\"\naccel = \"tcg\"\nnetwork = \"bridge\"\n[pod]\nmemory_mb = 512\n[bridge]\nsubnet = \"10.99.0.0/24\"\n")
	if err == nil && (c.Network != "bridge" || c.Bridge.Subnet != "10.99.0.0/24" || c.Bridge.Name != "hyper0") {
		t.Fatalf("bridge: %+v", c)
	}
	if err != nil || c.Root != "/srv/hyper" || c.Accel != "tcg" || c.Pod.MemoryMB != 512 || c.Pod.VCPUs != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	for name, text := range map[string]string{
		"typo":        "rooot = \"/x\"",
		"bad accel":   "accel = \"xen\"",
		"no driver":   "hypervisor = \"\"",
		"bad subnet":  "[bridge]\nsubnet = \"10.88.0.0/31\"",
		"bad bridge":  "[bridge]\nname = \"a-much-too-long-name\"",
		"bad mtu":     "[bridge]\nmtu = 10",
		"bad network": "network = \"host\"",
		"low memory":  "[pod]\nmemory_mb = 8",
		"bad syntax":  "root = ",
		"wrong type":  "[pod]\nvcpus = \"two\"",
		"unknown sub": "[pod]\ncolour = 1",
	} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	c, err := Parse("[registry]\ninsecure = [\"127.0.0.1:5000\"]\nmirrors = { \"docker.io\" = [\"http://10.0.0.1:5000\"] }\n")
	if err != nil || len(c.Registry.Insecure) != 1 || c.Registry.Mirrors["docker.io"][0] != "http://10.0.0.1:5000" {
		t.Fatalf("%+v %v", c.Registry, err)
	}
	for _, text := range []string{"[registry]\ninsecure = [\"http://x/\"]", "[registry]\nmirrors = { \"docker.io\" = [\"ftp://x\"] }"} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", text, err)
		}
	}
}

func TestAPI(t *testing.T) {
	c, err := Parse("")
	if hosts, lerr := c.Listeners(); err != nil || lerr != nil || len(hosts) != 1 || hosts[0].String() != "unix:///run/hyper/hyper.sock" {
		t.Fatalf("default listeners: %v %v %v", hosts, err, lerr)
	}
	c, err = Parse("[api]\nhosts = [\"unix:///run/h.sock\", \"tcp://0.0.0.0:2376\", \"tcp://0.0.0.0:2376\"]\n" +
		"[api.tls]\nverify = true\nca = \"/etc/hyper/ca.pem\"\ncert = \"/etc/hyper/cert.pem\"\nkey = \"/etc/hyper/key.pem\"\n")
	if hosts, _ := c.Listeners(); err != nil || len(hosts) != 2 || hosts[1].String() != "tcp://0.0.0.0:2376" {
		t.Fatalf("mutual TLS: %v %v", hosts, err)
	}
	if _, err := Parse("[api]\nhosts = [\"tcp://127.0.0.1:2375\"]\ninsecure_tcp = true\n"); err != nil {
		t.Errorf("insecure opt-in: %v", err)
	}
	for name, text := range map[string]string{
		"tcp without tls": "[api]\nhosts = [\"tcp://127.0.0.1:2375\"]",
		"tls, no verify":  "[api]\nhosts = [\"tcp://127.0.0.1:2376\"]\n[api.tls]\nenabled = true\ncert = \"c\"\nkey = \"k\"",
		"verify, no ca":   "[api]\nhosts = [\"tcp://127.0.0.1:2376\"]\n[api.tls]\nverify = true\ncert = \"c\"\nkey = \"k\"",
		"verify, no cert": "[api]\nhosts = [\"tcp://127.0.0.1:2376\"]\n[api.tls]\nverify = true\nca = \"a\"",
		"bad host":        "[api]\nhosts = [\"tcp://127.0.0.1\"]\ninsecure_tcp = true",
		"unknown api key": "[api]\nhost = \"x\"",
		"unknown tls key": "[api.tls]\ncacert = \"x\"",
	} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestJail(t *testing.T) {
	if j := Default().Jail; !j.Enabled || j.User != "hyper-qemu" {
		t.Fatalf("default jail: %+v", j)
	}
	c, err := Parse("[jail]\nenabled = false\n")
	if err != nil || c.Jail.Enabled || c.Jail.User != "hyper-qemu" {
		t.Fatalf("jail off: %+v %v", c.Jail, err)
	}
	for name, text := range map[string]string{
		"no user":       "[jail]\nuser = \"\"",
		"tiny overhead": "[jail]\nmemory_overhead_mb = 8",
		"few pids":      "[jail]\npids = 10",
		"typo":          "[jail]\nenable = true",
	} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", name, err)
		}
	}
}

func TestRelativePathsRefused(t *testing.T) {
	for _, text := range []string{`kernel = "out/vmlinux"`, `initrd = "initrd.img"`, `root = "var/lib/hyper"`, `run_dir = "run"`, `socket = "h.sock"`} {
		if _, err := Parse(text); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want invalid argument", text, err)
		}
	}
}
