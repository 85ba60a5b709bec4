package protocol

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := StreamHeader{Kind: KindStdio, Container: "c1", Exec: "init", Stdio: Stdout}
	if err := WriteFrame(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out StreamHeader
	if err := ReadFrame(&buf, &out); err != nil || out != in {
		t.Fatalf("got %+v, %v", out, err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, MaxFrameSize+1)
	if err := ReadFrame(bytes.NewReader(big), &StreamHeader{}); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	for name, body := range map[string]string{
		"unknown field": `{"kind":"rpc","evil":1}`,
		"trailing":      `{"kind":"rpc"} {}`,
		"garbage":       "\x00\xff",
	} {
		var b bytes.Buffer
		binary.Write(&b, binary.BigEndian, uint32(len(body)))
		b.WriteString(body)
		if err := ReadFrame(&b, &StreamHeader{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// truncated body
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(100))
	b.WriteString("{}")
	if err := ReadFrame(&b, &StreamHeader{}); err == nil {
		t.Error("truncated: accepted")
	}
}

func TestReadHello(t *testing.T) {
	h, err := ReadHello(bufio.NewReader(strings.NewReader("noise\n" + string(EncodeHello(Hello{Proto: Version, Agent: "x"})))))
	if err != nil || h.Agent != "x" {
		t.Fatalf("got %+v, %v", h, err)
	}
	if _, err := ReadHello(bufio.NewReader(strings.NewReader(`{"proto":99}` + "\n"))); err == nil {
		t.Error("wrong version accepted")
	}
	if _, err := ReadHello(bufio.NewReader(strings.NewReader(strings.Repeat("x", MaxHelloSize+10)))); err == nil {
		t.Error("endless line accepted")
	}
	if _, err := ReadHello(bufio.NewReader(strings.NewReader(strings.Repeat("x\n", MaxHelloSize)))); err == nil {
		t.Error("endless noise accepted")
	}
}

// FuzzReadFrame: no input may panic or allocate beyond the frame limit.
func FuzzReadFrame(f *testing.F) {
	var b bytes.Buffer
	WriteFrame(&b, Response{Error: &Error{Code: CodeNotFound, Message: "x"}})
	f.Add(b.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Response
		ReadFrame(bytes.NewReader(data), &r)
		var h StreamHeader
		ReadFrame(bytes.NewReader(data), &h)
	})
}

// FuzzReadHello: no input may panic; accepted hellos have the right version.
func FuzzReadHello(f *testing.F) {
	f.Add(EncodeHello(Hello{Proto: Version}))
	f.Add([]byte("garbage\n{\"proto\":1}\n"))
	f.Add([]byte("{{{{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHello(bufio.NewReader(bytes.NewReader(data)))
		if err == nil && h.Proto != Version {
			t.Fatalf("accepted version %d", h.Proto)
		}
	})
}
