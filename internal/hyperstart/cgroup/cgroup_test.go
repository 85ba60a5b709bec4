package cgroup

import "testing"

func TestPopulated(t *testing.T) {
	if !populated([]byte("populated 1\nfrozen 0\n")) {
		t.Fatal("populated 1")
	}
	if populated([]byte("populated 0\nfrozen 0\n")) || populated(nil) {
		t.Fatal("populated 0")
	}
}
