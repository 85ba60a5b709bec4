package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/daemon/podrec"
	"github.com/hyperhq/hyper/internal/network"
	"github.com/hyperhq/hyper/internal/protocol"
	"github.com/hyperhq/hyper/internal/store"
	"github.com/hyperhq/hyper/internal/vm"
	"github.com/hyperhq/hyper/internal/volume"
)

// fill sets every exported field under v to a value of its own, so that a
// field a conversion forgets (one added to the API's or the guest's types
// later, say) fails the round trip.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprint("s", *n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint8, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, k, n)
			fill(t, e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2025, 1, 2, 3, 4, 5, *n, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), n)
			}
		}
	default:
		t.Fatalf("fill: %s", v.Type())
	}
}

// roundTrip is rec written to the database and read back.
func roundTrip(t *testing.T, rec record) record {
	t.Helper()
	raw, err := json.Marshal(stored(rec))
	if err != nil {
		t.Fatal(err)
	}
	s, err := podrec.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return loaded(s)
}

// TestStoredRoundTrip: a record with every field set is read back as it
// was written, and so is one as Create makes it (few fields set).
func TestStoredRoundTrip(t *testing.T) {
	var rec record
	n := 0
	fill(t, reflect.ValueOf(&rec).Elem(), &n)
	// What the schema keeps once: the pod's name, its containers' names,
	// images and commands, and which are init containers.
	rec.Spec.Name = rec.Name
	same := func(specs []types.ContainerSpec, ctrs []types.Container, procs []protocol.ProcessSpec, init bool) {
		for i := range ctrs {
			ctrs[i].Name, ctrs[i].Image, ctrs[i].Command, ctrs[i].Init = specs[i].Name, specs[i].Image, procs[i].Args, init
			ctrs[i].Health = nil // the health checker's, never stored (health.go)
		}
	}
	same(rec.Spec.InitContainers, rec.InitContainers, rec.InitProcs, true)
	same(rec.Spec.Containers, rec.Containers, rec.Procs, false)
	if got := roundTrip(t, rec); !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, rec)
	}

	spec := types.PodSpec{Name: "new", Containers: []types.ContainerSpec{{Name: "new", Image: "busybox"},
		{Name: "new-1", Image: "busybox", Entrypoint: []string{}}}} // an empty entrypoint is not a nil one
	rec = record{Pod: types.Pod{ID: "ab", Name: "new", State: stateCreated, Created: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Spec: spec,
		Containers: []types.Container{{Name: "new", Image: "busybox", ImageID: "sha256:b", State: stateCreated, Command: []string{"sh"}},
			{Name: "new-1", Image: "busybox", ImageID: "sha256:b", State: stateCreated, Command: []string{"sh"}}}},
		Procs: []protocol.ProcessSpec{{Args: []string{"sh"}}, {Args: []string{"sh"}}}, Dir: "/d", VMID: "ab"}
	if got := roundTrip(t, rec); !reflect.DeepEqual(got, rec) {
		t.Errorf("round trip of a new pod:\n got %+v\nwant %+v", got, rec)
	}
	rec.Serials = map[string]string{} // not nil: not an older hyperd's record
	if got := roundTrip(t, rec); got.Serials == nil {
		t.Error("empty serials read back as nil")
	}
}

// The state root of a hyperd of schema version 1 (the record in testdata
// was written by it): an exited pod in bridge mode, the named volume it
// uses (as internal/volume writes it) and a lease of the bridge network
// (internal/network's IPAM).
const (
	v1PodID = "3f9c2b7e5a1d4c8f9e0b6a2d7c3f1e4b8a5d9c0e2f7b3a6d1c4e8f0a9b2d5c7e"
	v1VolID = "9b1e4f7a2c5d8e0b3a6f9c2e5d8b1a4f7c0e3d6b9a2f5c8e1d4b7a0f3c6e9d2b"
)

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var c bytes.Buffer // as store.Put wrote it
	if err := json.Compact(&c, b); err != nil {
		t.Fatal(err)
	}
	return c.Bytes()
}

func v1Root(t *testing.T, extra map[string][]byte) (root string, lease netip.Addr) {
	t.Helper()
	root = t.TempDir()
	db, err := store.Open(filepath.Join(root, "hyperd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pods := map[string][]byte{v1PodID: testdata(t, "pod-v1.json")}
	for k, v := range extra {
		pods[k] = v
	}
	err = db.Bolt().Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(podsBucket))
		for k, v := range pods {
			if err == nil {
				err = b.Put([]byte(k), v)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	vol := volume.Record{Name: "webdata", ID: v1VolID, SizeMB: 16, Created: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Labels: map[string]string{"owner": "web"}, Path: filepath.Join(root, "volumes", v1VolID+".ext4")}
	if err := db.Create("volumes", vol.Name, vol); err != nil {
		t.Fatal(err)
	}
	ipam, err := network.NewIPAM(db, netip.MustParsePrefix(network.DefaultSubnet))
	if err == nil {
		lease, err = ipam.Allocate(v1PodID)
	}
	if err != nil {
		t.Fatal(err)
	}
	return root, lease
}

// dump is every bucket of the database at root, its values by key.
func dump(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	db, err := store.Open(filepath.Join(root, "hyperd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return dumpDB(t, db)
}

func dumpDB(t *testing.T, db *store.DB) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := db.Bolt().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			kv := map[string]string{}
			out[string(name)] = kv
			return b.ForEach(func(k, v []byte) error { kv[string(k)] = string(v); return nil })
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedBuffer collects a daemon's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func openRoot(t *testing.T, root string, log *lockedBuffer) (*Daemon, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Root: root, VM: vm.Config{RunDir: filepath.Join(root, "run")}, Version: "test"} // no VM boots
	return New(ctx, cfg, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// The upgrade itself touches nothing but the pods bucket.
func TestUpgradeKeepsOtherBuckets(t *testing.T) {
	root, _ := v1Root(t, nil)
	before := dump(t, root)
	db, err := store.Open(filepath.Join(root, "hyperd.db"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{db: db, log: slog.New(slog.DiscardHandler)}
	recs, err := d.loadPods(t.Context())
	db.Close()
	if err != nil || len(recs) != 1 {
		t.Fatal(recs, err)
	}
	after := dump(t, root)
	if reflect.DeepEqual(after[podsBucket], before[podsBucket]) {
		t.Error("the pod's record was not upgraded")
	}
	delete(before, podsBucket)
	delete(after, podsBucket)
	if len(before["volumes"]) != 1 || len(before["ipam"]) != 1 || !reflect.DeepEqual(after, before) {
		t.Errorf("other buckets changed:\n%v\nwas\n%v", after, before)
	}
}

// TestUpgradeStateRoot: hyperd started on a state root of version 1
// upgrades the pod's record and shows the pod as the hyperd that wrote it
// did; the volume and the network's lease are read as they were written.
func TestUpgradeStateRoot(t *testing.T) {
	root, lease := v1Root(t, nil)
	before := dump(t, root)
	var log lockedBuffer
	d, err := openRoot(t, root, &log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The API shows what the record's API part showed.
	var want types.Pod
	if err := json.Unmarshal(testdata(t, "pod-v1.json"), &want); err != nil {
		t.Fatal(err)
	}
	pods, err := d.Pods().List(ctx, true)
	if err != nil || len(pods) != 1 {
		t.Fatal(pods, err)
	}
	got := pods[0]
	if got.Name != "web" || got.State != stateExited || got.ExitCode != 2 || len(got.Containers) != 2 || len(got.InitContainers) != 1 ||
		strings.Join(got.Containers[0].Command, " ") != "/docker-entrypoint.sh nginx -g daemon off;" ||
		got.Containers[1].Name != "sidecar" || got.Containers[1].ExitCode != 137 || !got.InitContainers[0].Init ||
		got.Spec.Containers[1].Entrypoint == nil || got.Spec.Network != types.NetworkBridge || len(got.Ports) != 2 {
		t.Errorf("pod %+v", got)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pod after the upgrade:\n got %+v\nwant %+v", got, want)
	}
	// And what hyperd adds: processes, VM, volumes, serials.
	p, err := d.lookup("web")
	if err != nil {
		t.Fatal(err)
	}
	rec := p.record(p.sb.Status())
	if rec.VMID != v1PodID[:16] || rec.Dir != "/var/lib/hyper/pods/"+v1PodID || len(rec.Procs) != 2 || len(rec.InitProcs) != 1 ||
		rec.Procs[0].Rlimits[0] != (protocol.Rlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}) || !rec.Procs[0].Terminal ||
		rec.Procs[1].Cwd != "/tmp" || rec.InitProcs[0].Stdin || len(rec.Serials) != 2 ||
		rec.Volumes[0] != (podVolume{Name: "data", Kind: protocol.MountDisk, Volume: "webdata", Serial: "v-9b1e4f7a2c5d8e0b3a"}) {
		t.Errorf("record %+v", rec)
	}
	// Recorded before containers had security settings: the defaults.
	for _, proc := range append(rec.Procs, rec.InitProcs...) {
		if proc.Capabilities == nil || len(proc.Capabilities.Effective) != 14 || proc.Seccomp == nil {
			t.Errorf("an older record's process got %+v", proc)
		}
	}

	// On disk: the record of version 2, and nothing else changed.
	after := dumpDB(t, d.db)
	var v2, wantV2 any
	json.Unmarshal([]byte(after[podsBucket][v1PodID]), &v2)
	json.Unmarshal(testdata(t, "pod-v2.json"), &wantV2)
	if !reflect.DeepEqual(v2, wantV2) {
		t.Errorf("stored record %s", after[podsBucket][v1PodID])
	}
	if !reflect.DeepEqual(after["volumes"], before["volumes"]) {
		t.Errorf("volumes %v, were %v", after["volumes"], before["volumes"])
	}
	vi, err := Volumes{d}.InspectVolume(ctx, "webdata")
	if err != nil || vi.ID != v1VolID || vi.Serial != rec.Volumes[0].Serial || !reflect.DeepEqual(vi.UsedBy, []string{"web"}) || vi.Labels["owner"] != "web" {
		t.Errorf("volume %+v, %v", vi, err)
	}
	// The lease was read, and released: its pod no longer runs.
	if !strings.Contains(log.String(), `msg="releasing the network of a pod that no longer runs" pod=`+v1PodID[:12]+" addr="+lease.String()) {
		t.Errorf("the lease of %s was not released; log:\n%s", lease, log.String())
	}
	if ls, err := d.net.Leases(); len(ls) != 0 || err != nil {
		t.Errorf("leases %v, %v", ls, err)
	}
	if !strings.Contains(log.String(), `msg="upgraded pod records" records=1 version=2`) {
		t.Errorf("log:\n%s", log.String())
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Started again, it has nothing to upgrade and shows the same pod.
	log = lockedBuffer{}
	if d, err = openRoot(t, root, &log); err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if again, err := d.Pods().Get(ctx, v1PodID[:12]); err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("after a restart: %+v, %v", again, err)
	}
	if strings.Contains(log.String(), "upgraded") {
		t.Errorf("upgraded again:\n%s", log.String())
	}
}

// TestNewerRecordRefused: a record of a version this hyperd does not know
// fails the start, and the records are left as they were, older ones too.
func TestNewerRecordRefused(t *testing.T) {
	root, _ := v1Root(t, map[string][]byte{"future": []byte(`{"version":3,"id":"future","name":"new","spec":{"new":true}}`)})
	before := dump(t, root)
	d, err := openRoot(t, root, &lockedBuffer{})
	if err == nil {
		d.Close(context.Background())
		t.Fatal("started with a record of version 3")
	}
	if want := "loading pods: migrating pods/future: pod record of version 3, written by a newer hyperd: this one reads versions 1 to 2"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want %q", err, want)
	}
	if after := dump(t, root); !reflect.DeepEqual(after[podsBucket], before[podsBucket]) {
		t.Errorf("records changed:\n%v\nwere\n%v", after[podsBucket], before[podsBucket])
	}
}

// TestSecuritySurvivesRestart: what Create resolved of a container's
// security (capabilities, seccomp program, no-new-privileges) and the
// spec's fields for it are read back by the next hyperd as they were.
func TestSecuritySurvivesRestart(t *testing.T) {
	root := t.TempDir()
	var log lockedBuffer
	d := openWithBusybox(t, root, &log)
	ctx := t.Context()
	spec := types.PodSpec{Name: "sec", Containers: []types.ContainerSpec{
		{Image: "busybox", Cmd: []string{"true"}, CapAdd: []string{"sys_admin"}, CapDrop: []string{"CHOWN"},
			SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined"}, RunAsNonRoot: true, User: "1000"},
		{Image: "busybox", Cmd: []string{"true"}},
		{Image: "busybox", Cmd: []string{"true"}, Privileged: true}}}
	if _, err := d.Pods().Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	snap := func(d *Daemon) (record, []sandboxGuest) {
		p, err := d.lookup("sec")
		if err != nil {
			t.Fatal(err)
		}
		rec := p.record(p.sb.Status())
		var g []sandboxGuest
		for _, cs := range rec.Spec.Containers {
			c := sandboxContainer(rec, cs, "", protocol.ProcessSpec{}).Guest
			g = append(g, sandboxGuest{c.MaskedPaths, c.ReadonlyPaths, c.Privileged})
		}
		return rec, g
	}
	before, guests := snap(d)
	caps := before.Procs[0].Capabilities
	if caps == nil || !slices.Contains(caps.Effective, "CAP_SYS_ADMIN") || slices.Contains(caps.Bounding, "CAP_CHOWN") ||
		!before.Procs[0].NoNewPrivileges || before.Procs[0].Seccomp != nil {
		t.Errorf("container 0: %+v", before.Procs[0])
	}
	if p := before.Procs[1]; p.Capabilities == nil || len(p.Capabilities.Bounding) != 14 || p.Seccomp == nil || p.NoNewPrivileges {
		t.Errorf("container 1 (defaults): %+v", p)
	}
	if p := before.Procs[2]; p.Capabilities == nil || len(p.Capabilities.Bounding) != 41 || p.Seccomp != nil {
		t.Errorf("container 2 (privileged): %+v", p)
	}
	if guests[1].masked == nil || guests[2].masked != nil || !guests[2].privileged || guests[1].privileged {
		t.Errorf("guest containers: %+v", guests)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := openRoot(t, root, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	after, guestsAfter := snap(d)
	if !reflect.DeepEqual(after.Procs, before.Procs) || !reflect.DeepEqual(after.Spec.Containers, before.Spec.Containers) ||
		!reflect.DeepEqual(guestsAfter, guests) {
		t.Errorf("after a restart:\n got %+v\n     %+v\nwant %+v\n     %+v", after.Procs, after.Spec.Containers, before.Procs, before.Spec.Containers)
	}
}

// sandboxGuest is the security part of a container's guest spec.
type sandboxGuest struct {
	masked, readonly []string
	privileged       bool
}
