package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/hyperhq/hyper/internal/guest"
	"github.com/hyperhq/hyper/internal/logs"
)

// containerLogs are the containers' log files, <pod dir>/logs/<name>.log:
// each is rotated at maxSize bytes, keeping maxFiles rotated files.
type containerLogs struct {
	maxSize  int64
	maxFiles int
	log      *slog.Logger
}

// pump copies a process's output into the log file at path and to
// out's clients (out may be nil); the channel is closed once all of it
// was delivered.
func (cl containerLogs) pump(proc *guest.Process, path string, out *fanout) (chan struct{}, error) {
	lw, err := logs.Open(path, cl.maxSize, cl.maxFiles)
	if err != nil {
		return nil, err
	}
	delivered := make(chan struct{})
	var wg sync.WaitGroup
	pump := func(r io.Reader, stream string) {
		defer wg.Done()
		lineW := lw.Stream(stream)
		defer lineW.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				lineW.Write(buf[:n])
				if out != nil {
					out.write(stream == "stderr", buf[:n])
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go pump(proc.Stdout, "stdout")
	if proc.Stderr != nil {
		wg.Add(1)
		go pump(proc.Stderr, "stderr")
	}
	go func() {
		wg.Wait()
		lw.Close()
		close(delivered)
	}()
	return delivered, nil
}

// remove deletes a removed container's log and its rotated files.
func (cl containerLogs) remove(dir, name string) {
	base := filepath.Join(dir, "logs", name+".log")
	for n := 0; n <= cl.maxFiles; n++ {
		path := base
		if n > 0 {
			path = fmt.Sprintf("%s.%d", base, n)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			cl.log.Warn("removing container log", "path", path, "err", err)
		}
	}
}
