package tty

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenResize(t *testing.T) {
	m, s, err := Open("/dev/ptmx")
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer m.Close()
	defer s.Close()
	if err := Resize(m, 40, 120); err != nil {
		t.Fatal(err)
	}
	ws, err := unix.IoctlGetWinsize(int(s.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 40 || ws.Col != 120 {
		t.Fatalf("winsize %+v %v", ws, err)
	}
	if _, err := s.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := m.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("read %d %v", n, err)
	}
	s.Close()
	for err == nil {
		_, err = m.Read(buf)
	}
	if !IsEOF(err) {
		t.Fatalf("after slave close: %v", err)
	}
}
