package daemon

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/errdefs"
)

// PrunePods implements api.PodPruner: it removes every pod that does not
// run (created, exited or failed: docker's stopped containers) and says
// what it removed and the bytes its directories held on disk. A pod that
// starts meanwhile is skipped.
func (x Pods) PrunePods(ctx context.Context) (types.PodPruneResponse, error) {
	var res types.PodPruneResponse
	for _, p := range x.d.all() {
		if p.sb.Running() {
			continue
		}
		p.mu.Lock()
		id, dir := p.rec.ID, p.rec.Dir
		p.mu.Unlock()
		size := diskUsage(dir)
		if err := x.Remove(ctx, id, false); err != nil {
			if errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound) {
				continue // started or removed meanwhile
			}
			return res, err
		}
		res.Deleted = append(res.Deleted, id)
		res.Reclaimed += size
	}
	return res, nil
}

// diskUsage is the space the files under dir take on disk (0 if unknown).
func diskUsage(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := e.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}
