package rlimit

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/protocol"
)

func TestResource(t *testing.T) {
	if r, ok := Resource("RLIMIT_NOFILE"); !ok || r != unix.RLIMIT_NOFILE {
		t.Fatal("RLIMIT_NOFILE")
	}
	if _, ok := Resource("NOFILE"); ok {
		t.Fatal("bare name accepted")
	}
}

func TestValidate(t *testing.T) {
	ok := []protocol.Rlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE"}}
	if err := Validate(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]protocol.Rlimit{
		{{Type: "RLIMIT_BOGUS"}},
		{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}},
		{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}},
	} {
		if Validate(bad) == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
