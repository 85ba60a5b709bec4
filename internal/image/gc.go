package image

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"go.etcd.io/bbolt"
)

// GCResult says what GC freed.
type GCResult struct {
	Blobs     []string // digests of the blobs deleted
	Rootfs    []string // IDs of the images whose root file systems were deleted
	Reclaimed int64    // disk space freed, in bytes (allocated blocks)
}

// GC deletes the blobs and root file systems on disk that no image
// references and no operation in flight (load, pull, push, root file
// system build) uses. Open, Remove and Prune run it; it is cheap when
// there is nothing to free.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	if err := ctx.Err(); err != nil {
		return GCResult{}, err
	}
	ids, digests := s.onDisk()
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.collectLocked(ids, digests)
	sort.Strings(res.Blobs)
	sort.Strings(res.Rootfs)
	return res, nil
}

// onDisk lists the root file systems (by image ID) and blobs (by digest)
// on disk.
func (s *Store) onDisk() (ids, digests []string) {
	if es, err := os.ReadDir(filepath.Join(s.root, "rootfs")); err == nil {
		for _, e := range es {
			if h, ok := strings.CutSuffix(e.Name(), ".erofs"); ok && e.Type().IsRegular() {
				ids = append(ids, "sha256:"+h)
			}
		}
	}
	if es, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256")); err == nil {
		for _, e := range es {
			if e.Type().IsRegular() {
				digests = append(digests, "sha256:"+e.Name())
			}
		}
	}
	return ids, digests
}

// diskSize is the space a file takes on disk (its allocated blocks: a
// sparse root file system counts only what it stores), 0 if it is gone.
func diskSize(p string) int64 {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}

// PruneResult says what Prune did.
type PruneResult struct {
	Images    []RemoveResult // the images deleted
	Reclaimed int64          // disk space GC freed afterwards, in bytes
}

// Prune deletes the images no user (pod) uses, in any state: with all,
// every such image; without, only dangling ones (without a name). Then it
// runs GC.
func (s *Store) Prune(ctx context.Context, all bool) (PruneResult, error) {
	var res PruneResult
	s.mu.Lock()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		images, names := buckets(tx)
		recs, err := allRecords(images)
		if err != nil {
			return err
		}
		var doomed []record
		for _, r := range recs {
			if (all || len(r.Names) == 0) && len(s.users(r.ID)) == 0 {
				doomed = append(doomed, r)
			}
		}
		for _, r := range doomed {
			for _, n := range r.Names {
				if err := names.Delete([]byte(n)); err != nil {
					return err
				}
			}
			if err := images.Delete([]byte(r.ID)); err != nil {
				return err
			}
			u := append([]string(nil), r.Names...)
			sort.Strings(u)
			res.Images = append(res.Images, RemoveResult{Untagged: u, Deleted: r.ID})
		}
		return nil
	})
	s.mu.Unlock()
	if err != nil {
		return PruneResult{}, err
	}
	gc, err := s.GC(ctx)
	res.Reclaimed = gc.Reclaimed
	return res, err
}

// Usage is the disk usage of one kind of thing in the store.
type Usage struct {
	Count  int // how many
	Active int // how many images some pod uses, or how many files they need
	// Size is the space taken on disk (allocated blocks), in bytes; files
	// shared by several images count once.
	Size int64
	// Reclaimable is the part of Size that removing every image no pod
	// uses (and GC) would free.
	Reclaimable int64
}

// DiskUsage is what the store takes on disk.
type DiskUsage struct {
	// Images: all images, their blobs and root file systems. Size is the
	// space their files take.
	Images Usage
	// Rootfs: the root file systems on disk (built on first use).
	Rootfs Usage
	// Blobs: the manifests, configs and layers on disk.
	Blobs Usage
}

// DiskUsage measures the store on disk. Files no image references (GC has
// not run yet, or an operation is in flight) count in Rootfs and Blobs
// only, as reclaimable.
func (s *Store) DiskUsage(ctx context.Context) (DiskUsage, error) {
	var du DiskUsage
	var recs []record
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		images, _ := buckets(tx)
		recs, err = allRecords(images)
		return err
	})
	if err != nil {
		return du, err
	}
	ids, digests := s.onDisk()
	rootfsSize := map[string]int64{}
	for _, id := range ids {
		rootfsSize[id] = diskSize(s.rootfsPath(id))
	}
	blobSize := map[string]int64{}
	for _, d := range digests {
		if p, err := s.blobPath(d); err == nil {
			blobSize[d] = diskSize(p)
		}
	}
	activeBlobs := map[string]bool{}
	activeRootfs := map[string]bool{}
	referenced := map[string]bool{}
	for _, r := range recs {
		active := len(s.users(r.ID)) > 0
		du.Images.Count++
		if active {
			du.Images.Active++
			activeRootfs[r.ID] = true
		}
		for _, d := range r.blobs() {
			referenced[d] = true
			if active {
				activeBlobs[d] = true
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return du, err
	}
	for _, r := range recs {
		if n, ok := rootfsSize[r.ID]; ok {
			du.Images.Size += n
			if !activeRootfs[r.ID] {
				du.Images.Reclaimable += n
			}
		}
	}
	for d := range referenced {
		du.Images.Size += blobSize[d]
		if !activeBlobs[d] {
			du.Images.Reclaimable += blobSize[d]
		}
	}
	for id, n := range rootfsSize {
		du.Rootfs.Count++
		du.Rootfs.Size += n
		if activeRootfs[id] {
			du.Rootfs.Active++
		} else {
			du.Rootfs.Reclaimable += n
		}
	}
	for d, n := range blobSize {
		du.Blobs.Count++
		du.Blobs.Size += n
		if activeBlobs[d] {
			du.Blobs.Active++
		} else {
			du.Blobs.Reclaimable += n
		}
	}
	return du, nil
}
