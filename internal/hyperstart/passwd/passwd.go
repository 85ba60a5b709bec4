// Package passwd parses /etc/passwd and /etc/group of a container image
// and resolves a process's user specification ("name", "uid",
// "name:group", "uid:gid") the way Docker does.
//
// The files come from an untrusted image, so the parser is bounded: files
// over MaxFileSize are refused, over-long lines and malformed entries are
// skipped, and at most MaxEntries entries are kept.
package passwd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Limits on the files read from an image.
const (
	MaxFileSize = 4 << 20
	MaxLine     = 4096
	MaxEntries  = 65536
	MaxMembers  = 1024 // members of one group
)

// User is one /etc/passwd entry.
type User struct {
	Name string
	UID  int
	GID  int
	Home string
}

// Group is one /etc/group entry.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// ErrTooLarge is returned for files over MaxFileSize.
var ErrTooLarge = errors.New("file exceeds size limit")

// ParsePasswd parses passwd(5) content.
func ParsePasswd(r io.Reader) ([]User, error) {
	var users []User
	err := eachLine(r, func(fields []string) {
		if len(fields) < 7 || len(users) >= MaxEntries {
			return
		}
		uid, ok1 := parseID(fields[2])
		gid, ok2 := parseID(fields[3])
		if fields[0] == "" || !ok1 || !ok2 {
			return
		}
		users = append(users, User{Name: fields[0], UID: uid, GID: gid, Home: fields[5]})
	})
	return users, err
}

// ParseGroup parses group(5) content.
func ParseGroup(r io.Reader) ([]Group, error) {
	var groups []Group
	err := eachLine(r, func(fields []string) {
		if len(fields) < 4 || len(groups) >= MaxEntries {
			return
		}
		gid, ok := parseID(fields[2])
		if fields[0] == "" || !ok {
			return
		}
		g := Group{Name: fields[0], GID: gid}
		if fields[3] != "" {
			for _, m := range strings.SplitN(fields[3], ",", MaxMembers+1) {
				if m = strings.TrimSpace(m); m != "" && len(g.Members) < MaxMembers {
					g.Members = append(g.Members, m)
				}
			}
		}
		groups = append(groups, g)
	})
	return groups, err
}

// eachLine calls fn with the colon-separated fields of each line that is
// neither empty, a comment, nor longer than MaxLine.
func eachLine(r io.Reader, fn func([]string)) error {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxFileSize+1), MaxLine)
	total := 0
	skipping := false
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > MaxFileSize {
			return ErrTooLarge
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			skipping = true // over-long line: drop it entirely
			continue
		case skipping:
			skipping = false
		default:
			line = bytes.TrimRight(line, "\r\n")
			if len(line) > 0 && line[0] != '#' && bytes.IndexByte(line, 0) < 0 {
				fn(strings.Split(string(line), ":"))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseID parses a uid or gid: a decimal in [0, 2^31).
func parseID(s string) (int, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// ReadPasswdFile parses a passwd file; a missing file is empty.
func ReadPasswdFile(path string) ([]User, error) {
	f, err := openRegular(path)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	u, err := ParsePasswd(f)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return u, nil
}

// ReadGroupFile parses a group file; a missing file is empty.
func ReadGroupFile(path string) ([]Group, error) {
	f, err := openRegular(path)
	if err != nil || f == nil {
		return nil, err
	}
	defer f.Close()
	g, err := ParseGroup(f)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return g, nil
}

// openRegular opens path if it is a regular file (an image could make it
// a FIFO or a device to hang or confuse us). A missing file yields nil.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}
