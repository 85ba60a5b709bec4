package stdcopy

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	m := NewMux(&buf)
	io.WriteString(m.Stream(Stdout), "hello ")
	io.WriteString(m.Stream(Stderr), "oops\n")
	io.WriteString(m.Stream(Stdout), "world\n")
	big := strings.Repeat("x", maxFrame+10) // split into two frames
	io.WriteString(m.Stream(Stdout), big)
	if got := buf.Bytes()[:8]; !bytes.Equal(got, []byte{1, 0, 0, 0, 0, 0, 0, 6}) {
		t.Fatalf("first header %v", got)
	}
	var out, errb bytes.Buffer
	n, err := Copy(&out, &errb, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello world\n"+big || errb.String() != "oops\n" || n != int64(out.Len()+errb.Len()) {
		t.Errorf("out %d bytes, err %q, n %d", out.Len(), errb.String(), n)
	}
}

func TestSystemFrame(t *testing.T) {
	var buf bytes.Buffer
	m := NewMux(&buf)
	io.WriteString(m.Stream(Stdout), "partial")
	m.WriteFrame(System, []byte("exec failed: no such file"))
	var out bytes.Buffer
	_, err := Copy(&out, nil, &buf)
	var se *SystemError
	if !errors.As(err, &se) || se.Message != "exec failed: no such file" || out.String() != "partial" {
		t.Fatalf("got %v, out %q", err, out.String())
	}
}

func TestMalformed(t *testing.T) {
	for name, in := range map[string][]byte{
		"short header":  {1, 0, 0},
		"short payload": {1, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'},
		"bad type":      {7, 0, 0, 0, 0, 0, 0, 1, 'a'},
		"huge system":   {3, 0, 0, 0, 0x10, 0, 0, 0},
	} {
		if _, err := Copy(io.Discard, io.Discard, bytes.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Copy(nil, nil, bytes.NewReader(nil)); err != nil {
		t.Errorf("empty stream: %v", err)
	}
}

// TestConcurrentWriters: frames from two goroutines never interleave.
func TestConcurrentWriters(t *testing.T) {
	var buf bytes.Buffer
	m := NewMux(&buf)
	var wg sync.WaitGroup
	for _, s := range []StdType{Stdout, Stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := m.Stream(s)
			for range 200 {
				w.Write(bytes.Repeat([]byte{byte('0' + s)}, 100))
			}
		}()
	}
	wg.Wait()
	var out, errb bytes.Buffer
	if _, err := Copy(&out, &errb, &buf); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Repeat("1", 20000) || errb.String() != strings.Repeat("2", 20000) {
		t.Error("interleaved frames")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteErrorSticks(t *testing.T) {
	m := NewMux(failWriter{})
	if _, err := m.Stream(Stdout).Write([]byte("a")); err == nil {
		t.Fatal("no error")
	}
	if _, err := m.Stream(Stderr).Write([]byte("b")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("later write: %v", err)
	}
}
