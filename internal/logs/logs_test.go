package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func collect(t *testing.T, path string, files int, o ReadOptions) []string {
	t.Helper()
	var got []string
	err := Read(context.Background(), path, files, o, func(e Entry) error {
		got = append(got, e.Stream+":"+e.Log)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestWriteReadRotate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	w, err := Open(p, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, errs := w.Stream("stdout"), w.Stream("stderr")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(out, "line %d\n", i)
	}
	fmt.Fprint(errs, "partial")
	errs.Close()
	w.Close()
	got := collect(t, p, 3, ReadOptions{})
	if len(got) == 0 || got[len(got)-1] != "stderr:partial" {
		t.Fatalf("got %q", got)
	}
	// Rotation dropped the oldest lines but kept order.
	if !strings.HasPrefix(got[len(got)-2], "stdout:line 19") {
		t.Fatalf("order: %q", got)
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Error("kept more files than asked")
	}
	tail := collect(t, p, 3, ReadOptions{Tail: 2})
	if len(tail) != 2 || tail[1] != "stderr:partial" {
		t.Fatalf("tail: %q", tail)
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	w, _ := Open(p, 300, 2)
	s := w.Stream("stdout")
	fmt.Fprintln(s, "first")
	done := make(chan struct{})
	got := make(chan string, 100)
	finished := make(chan error)
	go func() {
		finished <- Read(context.Background(), p, 2, ReadOptions{Follow: true, Done: done}, func(e Entry) error {
			got <- e.Log
			return nil
		})
	}()
	for i := 0; i < 10; i++ {
		fmt.Fprintf(s, "later %d\n", i)
		time.Sleep(30 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(done)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	w.Close()
	seen := map[string]bool{}
	for len(got) > 0 {
		seen[strings.TrimSpace(<-got)] = true
	}
	if !seen["first"] || !seen["later 9"] {
		t.Fatalf("follow missed lines: %v", seen)
	}
}

func TestTornLineSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(p, []byte("{\"log\":\"ok\\n\",\"stream\":\"stdout\"}\n{\"log\":\"tor\n"), 0o644)
	got := collect(t, p, 1, ReadOptions{})
	if len(got) != 1 {
		t.Fatalf("got %q", got)
	}
}
