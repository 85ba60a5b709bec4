package podrec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/pod-v2.json")

// The records of ../testdata: pod-v1.json is what the hyperd of version 1
// wrote of an exited pod (pod.record at commit ace0497), pod-v2.json the
// same pod upgraded.
const v1File, v2File = "../testdata/pod-v1.json", "../testdata/pod-v2.json"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n%s\nwant\n%s", what, got, want)
	}
}

func TestUpgradeV1(t *testing.T) {
	out, err := Upgrade(read(t, v1File))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		var b bytes.Buffer
		json.Indent(&b, out, "", "  ")
		b.WriteByte('\n')
		if err := os.WriteFile(v2File, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sameJSON(t, "upgraded", out, read(t, v2File))
	p, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	// The lists of version 1 joined, one container one value.
	if p.Version != 2 || p.Name != "web" || p.Status.State != "exited" || p.Status.ExitCode != 2 || len(p.Containers) != 2 || len(p.InitContainers) != 1 {
		t.Fatalf("upgraded %+v", p)
	}
	side := p.Containers[1]
	if side.Spec.Name != "sidecar" || side.Spec.Entrypoint == nil || len(side.Spec.Entrypoint) != 0 ||
		strings.Join(side.Process.Args, " ") != "sleep 3600" || side.Status.ExitCode != 137 || side.Status.RestartCount != 1 {
		t.Errorf("sidecar %+v", side)
	}
	if init := p.InitContainers[0]; init.Spec.Name != "web-init-0" || init.Process.Args[0] != "sh" || init.ImageID != side.ImageID {
		t.Errorf("init container %+v", init)
	}
	if len(p.VolumePlan) != 3 || p.VolumePlan[0].Serial != "v-9b1e4f7a2c5d8e0b3a" || len(p.Status.Serials) != 2 || len(p.Status.Ports) != 2 {
		t.Errorf("volumes %+v, status %+v", p.VolumePlan, p.Status)
	}
}

// A current record is read as it is written, and not upgraded.
func TestCurrent(t *testing.T) {
	raw := read(t, v2File)
	if out, err := Upgrade(raw); out != nil || err != nil {
		t.Fatalf("upgrading a current record: %s, %v", out, err)
	}
	p, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "written again", out, raw)
}

func TestVersions(t *testing.T) {
	for raw, want := range map[string]string{
		`{"version":3,"id":"x","spec":{"new":true}}`: "pod record of version 3, written by a newer hyperd: this one reads versions 1 to 2",
		`{"version":0}`:   "pod record of version 0: no such version",
		`{"version":"2"}`: "decoding a pod record",
		`not json`:        "decoding a pod record",
		`{"name":"web","spec":{"containers":[{"name":"a"},{"name":"b"}]},"containers":[{},{}],"procs":[{}]}`: "pod web: containers: 2 specs, 2 states and 1 processes",
	} {
		_, err := Decode([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want %q", raw, err, want)
		}
		if out, err := Upgrade([]byte(raw)); out != nil || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Upgrade(%s) = %s, %v, want %q", raw, out, err, want)
		}
	}
}
