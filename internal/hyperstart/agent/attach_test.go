package agent

import (
	"io"
	"os"
	"testing"
	"time"
)

// A holding pump keeps the output written while its stream is broken and
// delivers it on the stream given by a re-attach.
func TestHoldingPumpRebinds(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	a, b := netPipe(t)
	p := newPump(r, a, true)
	go p.run()
	w.Write([]byte("one"))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "one" {
		t.Fatalf("read %q %v", buf, err)
	}
	b.Close() // the host went away
	w.Write([]byte("two"))
	time.Sleep(50 * time.Millisecond)
	a2, b2 := netPipe(t)
	p.attach(a2)
	w.Close()
	got, _ := io.ReadAll(b2)
	if string(got) != "two" {
		t.Fatalf("after re-attach got %q, want \"two\"", got)
	}
	<-p.done
}

// A stream handed over while the process writes nothing more still ends
// when the process's output does: a restarted host learns the output is
// complete. One handed over after the end is closed at once.
func TestIdlePumpRebindEnds(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netPipe(t)
	p := newPump(r, a, true)
	go p.run()
	a2, b2 := netPipe(t)
	p.attach(a2)
	w.Close()
	done := make(chan []byte)
	go func() { got, _ := io.ReadAll(b2); done <- got }()
	select {
	case got := <-done:
		if len(got) != 0 {
			t.Errorf("got %q, want nothing", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the re-attached stream never ended")
	}
	<-p.done
	a3, b3 := netPipe(t)
	p.attach(a3)
	if _, err := b3.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("stream attached after the end: read err %v, want EOF", err)
	}
}

// A broken stdin stream does not close the process's stdin; the new one
// carries on, and its EOF closes it.
func TestStdinPumpRebinds(t *testing.T) {
	r, w, _ := os.Pipe()
	a, b := netPipe(t)
	s := newStdinPump(a, w, true)
	go s.run()
	b.Write([]byte("x"))
	a.SetReadDeadline(time.Now()) // the old stream breaks
	time.Sleep(20 * time.Millisecond)
	a2, b2 := netPipe(t)
	s.attach(a2)
	b2.Write([]byte("y"))
	b2.Close()
	got, _ := io.ReadAll(r)
	if string(got) != "xy" {
		t.Fatalf("stdin got %q", got)
	}
}
