package qemu

import (
	"bufio"
	"bytes"
	"reflect"
	"testing"
)

// FuzzFDSets: whatever a (compromised) QEMU answers on QMP, reading the
// reply and picking a disk's fd sets from it returns, without panicking.
func FuzzFDSets(f *testing.F) {
	for _, seed := range []string{
		`{"return": [{"fdset-id": 1, "fds": [{"fd": 12, "opaque": "img0"}, {"fd": 13, "opaque": "img0"}]}, {"fdset-id": 2, "fds": []}]}` + "\n",
		`{"event": "X"}` + "\n" + `{"return": []}` + "\n",
		`{"error": {"class": "GenericError", "desc": "no"}}` + "\n",
		`{"return": {"fdset-id": "x"}}` + "\n",
		`{"return": [` + "\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		q := &qmp{r: bufio.NewReaderSize(bytes.NewReader(data), 4096)}
		raw, err := q.reply("query-fdsets")
		if err != nil {
			return
		}
		fdSetsOf(raw, "img0")
	})
}

func TestFDSetsOf(t *testing.T) {
	raw := []byte(`[{"fdset-id": 1, "fds": [{"fd": 12, "opaque": "img0"}]}, {"fdset-id": 3, "fds": [{"fd": 14, "opaque": "vol-c"}]}, {"fdset-id": 4, "fds": [{"fd": 15, "opaque": "img0"}]}]`)
	ids, err := fdSetsOf(raw, "img0")
	if err != nil || !reflect.DeepEqual(ids, []int{1, 4}) {
		t.Fatalf("fdSetsOf = %v, %v; want [1 4]", ids, err)
	}
	if _, err := fdSetsOf([]byte(`{}`), "img0"); err == nil {
		t.Error("an object for a list accepted")
	}
}
