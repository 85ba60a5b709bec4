package cli

import (
	"io"

	"golang.org/x/term"
)

// fdOf is the file descriptor behind a stream, if it is a file.
func fdOf(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

// isTerminal reports whether a stream is a terminal.
func isTerminal(v any) bool {
	fd, ok := fdOf(v)
	return ok && term.IsTerminal(fd)
}

// terminalSize is the size of the first of the streams that is a
// terminal.
func terminalSize(streams ...any) (height, width uint16, ok bool) {
	for _, s := range streams {
		fd, isFd := fdOf(s)
		if !isFd || !term.IsTerminal(fd) {
			continue
		}
		w, h, err := term.GetSize(fd)
		if err != nil || w <= 0 || h <= 0 {
			continue
		}
		return uint16(min(h, 65535)), uint16(min(w, 65535)), true
	}
	return 0, 0, false
}

// rawTerminal puts in (a terminal) in raw mode; restore undoes it.
func rawTerminal(in io.Reader) (restore func(), err error) {
	fd, ok := fdOf(in)
	if !ok || !term.IsTerminal(fd) {
		return func() {}, nil
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	return func() { _ = term.Restore(fd, old) }, nil
}
