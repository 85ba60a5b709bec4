package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// maxQMPLine bounds one QMP message.
const maxQMPLine = 1 << 20

// qmp is a minimal QEMU Machine Protocol client: one command at a time.
// It has no mutex: each operation dials a connection of its own and is
// its only user, so one connection's requests and replies never
// interleave.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialQMP(ctx context.Context, path string) (*qmp, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	q := &qmp{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.readMsg(&greeting); err != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %v", err)
	}
	if err := q.execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) readMsg(v any) error {
	var line []byte
	for {
		chunk, isPrefix, err := q.r.ReadLine()
		if err != nil {
			return err
		}
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return errors.New("qmp message too large")
		}
		if !isPrefix {
			return json.Unmarshal(line, v)
		}
	}
}

// execute runs one command, skipping asynchronous events.
func (q *qmp) execute(ctx context.Context, cmd string, args any) error {
	_, err := q.call(ctx, cmd, args)
	return err
}

// call runs one command and returns its return value, skipping
// asynchronous events.
func (q *qmp) call(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	q.conn.SetDeadline(dl)
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	return q.reply(cmd)
}

// reply reads the reply to cmd, skipping asynchronous events.
func (q *qmp) reply(cmd string) (json.RawMessage, error) {
	for {
		var msg struct {
			Event  string          `json:"event"`
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
		}
		if err := q.readMsg(&msg); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case msg.Event != "":
			continue
		case msg.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s: %s", cmd, msg.Error.Class, msg.Error.Desc)
		case msg.Return != nil && !bytes.Equal(msg.Return, []byte("null")):
			return msg.Return, nil
		}
	}
}

func (q *qmp) close() error { return q.conn.Close() }
