// Package logs stores container output as docker's json-file driver does:
// one JSON object per line ({"log","stream","time"}), in a file that rotates
// by size, readable after the pod exited and after a daemon restart.
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Entry is one log line.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"` // "stdout" or "stderr"
	Time   time.Time `json:"time"`
}

// maxLine bounds one entry: longer output is split, as docker does.
const maxLine = 16 * 1024

// Writer appends entries to path, rotating to path.1 ... path.N.
type Writer struct {
	path     string
	maxSize  int64
	maxFiles int

	// mu is held across the file's writes, rotation and close on purpose:
	// it orders the entries of one log (its streams write concurrently)
	// and its rotation; nothing else waits on it.
	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (or creates) the log at path. maxSize <= 0 disables rotation;
// maxFiles is how many files to keep in all (at least 1).
func Open(path string, maxSize int64, maxFiles int) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, maxSize: maxSize, maxFiles: max(maxFiles, 1), f: f, size: fi.Size()}, nil
}

// Stream returns an io.Writer for one stream: every line written to it
// becomes an entry (a partial last line waits for its newline or Close).
func (w *Writer) Stream(name string) *LineWriter { return &LineWriter{w: w, stream: name} }

func (w *Writer) write(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return os.ErrClosed
	}
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return err
}

func (w *Writer) rotate() error {
	w.f.Close()
	w.f = nil
	for i := w.maxFiles - 1; i >= 1; i-- {
		src := w.path
		if i > 1 {
			src = w.path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(src, w.path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotating log: %w", err)
		}
	}
	if w.maxFiles == 1 {
		os.Remove(w.path)
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotating log: %w", err)
	}
	w.f, w.size = f, 0
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// LineWriter splits a byte stream into entries.
type LineWriter struct {
	w       *Writer
	stream  string
	partial []byte
}

// Write implements io.Writer.
func (l *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			if len(l.partial) >= maxLine {
				if err := l.flush(); err != nil {
					return 0, err
				}
			}
			break
		}
		l.partial = append(l.partial, p[:i+1]...)
		p = p[i+1:]
		if err := l.flush(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (l *LineWriter) flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	err := l.w.write(Entry{Log: string(l.partial), Stream: l.stream, Time: time.Now().UTC()})
	l.partial = l.partial[:0]
	return err
}

// Close writes a pending partial line.
func (l *LineWriter) Close() error { return l.flush() }

// ReadOptions select entries.
type ReadOptions struct {
	Tail   int       // last N entries; <= 0 means all
	Since  time.Time // entries at or after
	Follow bool      // keep reading new entries until ctx ends or Done closes
	// Done, when closed, ends a follow once the file has been read to its
	// end (the container has exited and nothing more comes).
	Done <-chan struct{}
}

// Read sends the entries of the log at path (rotated files first) to fn.
func Read(ctx context.Context, path string, maxFiles int, o ReadOptions, fn func(Entry) error) error {
	var tail []Entry
	emit := func(e Entry) error {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			return nil
		}
		if o.Tail > 0 {
			if tail = append(tail, e); len(tail) > o.Tail {
				tail = tail[1:]
			}
			return nil
		}
		return fn(e)
	}
	for i := max(maxFiles, 1) - 1; i >= 1; i-- {
		if err := readFile(path+"."+strconv.Itoa(i), emit); err != nil {
			return err
		}
	}
	cur, err := openFollower(path)
	if err != nil {
		return err
	}
	defer cur.close()
	if err := cur.drain(emit); err != nil {
		return err
	}
	for _, e := range tail {
		if err := fn(e); err != nil {
			return err
		}
	}
	o.Tail = 0
	for o.Follow {
		select {
		case <-ctx.Done():
			return nil
		case <-o.Done:
			return cur.drain(emit)
		case <-time.After(100 * time.Millisecond):
		}
		if err := cur.drain(emit); err != nil {
			return err
		}
		// Rotated away? Finish the old file (drained above), follow the new.
		if fi, err := os.Stat(path); err == nil && cur.f != nil {
			if old, err := cur.f.Stat(); err == nil && !os.SameFile(fi, old) {
				cur.close()
				if cur, err = openFollower(path); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func readFile(name string, fn func(Entry) error) error {
	f, err := openFollower(name)
	if err != nil {
		return err
	}
	defer f.close()
	return f.drain(fn)
}

// follower reads complete lines from a growing file, keeping a partial last
// line for the next round.
type follower struct {
	f       *os.File
	partial []byte
}

func openFollower(name string) (*follower, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return &follower{}, nil
	}
	if err != nil {
		return nil, err
	}
	return &follower{f: f}, nil
}

func (r *follower) close() {
	if r.f != nil {
		r.f.Close()
	}
}

func (r *follower) drain(fn func(Entry) error) error {
	if r.f == nil {
		return nil
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := r.f.Read(buf)
		r.partial = append(r.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(r.partial, '\n')
			if i < 0 {
				break
			}
			var e Entry
			if json.Unmarshal(r.partial[:i], &e) == nil { // torn lines (crash) are skipped
				if err := fn(e); err != nil {
					return err
				}
			}
			r.partial = r.partial[i+1:]
		}
		if len(r.partial) > 4*maxLine { // not ours: never buffer without bound
			r.partial = r.partial[:0]
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
