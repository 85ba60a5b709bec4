package image

import (
	"context"
	"os"
	"sort"
	"sync"
	"syscall"
)

// pinSet counts the in-flight users of blobs (by digest) and of root
// file systems (rootfsPin(id)): loads, pulls, pushes, saves and builds
// pin what they use until done. GC decides under its mutex and deletes
// without it: what it decided to delete is marked as deleting, and pin
// waits until that is done; what is unpinned while GC reads which images
// are registered (outside the mutex) is spared by that GC, as its owner
// may have registered it after the read began.
type pinSet struct {
	mu sync.Mutex
	n  map[string]int
	// scans are the collections reading the registered images, each with
	// the keys unpinned since it began: it does not delete them.
	scans map[*scan]bool
	// deleting are the keys a collection decided to delete, closed once
	// it has.
	deleting map[string]chan struct{}
}

// pin pins keys, once none of them is being deleted.
func (p *pinSet) pin(keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		var wait chan struct{}
		for _, k := range keys {
			if ch := p.deleting[k]; ch != nil {
				wait = ch
				break
			}
		}
		if wait == nil {
			break
		}
		p.mu.Unlock()
		<-wait
		p.mu.Lock()
	}
	if p.n == nil {
		p.n = map[string]int{}
	}
	for _, k := range keys {
		p.n[k]++
	}
}

func (p *pinSet) unpin(keys ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		if p.n[k]--; p.n[k] <= 0 {
			delete(p.n, k)
		}
		for sc := range p.scans {
			sc.spared[k] = true
		}
	}
}

// scan is a collection reading the registered images.
type scan struct{ spared map[string]bool }

// beginScanLocked starts a collection's read of the registered images.
func (p *pinSet) beginScanLocked() *scan {
	sc := &scan{spared: map[string]bool{}}
	if p.scans == nil {
		p.scans = map[*scan]bool{}
	}
	p.scans[sc] = true
	return sc
}

// deletableLocked tells whether the collection of sc may delete key:
// nothing pins it, it was not unpinned since sc began, and no other
// collection is deleting it.
func (p *pinSet) deletableLocked(sc *scan, key string) bool {
	return p.n[key] <= 0 && !sc.spared[key] && p.deleting[key] == nil
}

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
	res := s.collect(s.rootfs.onDisk(), s.blobs.onDisk())
	sort.Strings(res.Blobs)
	sort.Strings(res.Rootfs)
	return res, nil
}

// collect deletes the root file systems of ids and the blobs in digests
// that no registered image references and no operation in flight has
// pinned, and says what it freed. It reads the registered images and
// deletes the files without the pins' lock: it decides under it, marking
// what it will delete (see pinSet).
func (s *Store) collect(ids, digests []string) GCResult {
	var res GCResult
	p := s.pins
	p.mu.Lock()
	sc := p.beginScanLocked()
	p.mu.Unlock()
	registered, used, err := s.catalog.references()
	if s.scanned != nil {
		s.scanned()
	}
	var rootfs, blobs []string
	done := make(chan struct{})
	p.mu.Lock()
	if err == nil { // else keep everything rather than guess
		for _, id := range ids {
			if !registered[id] && p.deletableLocked(sc, rootfsPin(id)) && !s.rootfs.building(id) {
				rootfs = append(rootfs, id)
			}
		}
		for _, d := range digests {
			if !used[d] && p.deletableLocked(sc, d) {
				blobs = append(blobs, d)
			}
		}
	}
	delete(p.scans, sc)
	if len(rootfs)+len(blobs) == 0 {
		p.mu.Unlock()
		return res
	}
	if p.deleting == nil {
		p.deleting = map[string]chan struct{}{}
	}
	for _, id := range rootfs {
		p.deleting[rootfsPin(id)] = done
	}
	for _, d := range blobs {
		p.deleting[d] = done
	}
	p.mu.Unlock()
	if s.deleting != nil {
		s.deleting()
	}

	for _, id := range rootfs {
		if n, ok := s.rootfs.delete(id); ok {
			res.Rootfs = append(res.Rootfs, id)
			res.Reclaimed += n
		}
	}
	for _, d := range blobs {
		if n, ok := s.blobs.delete(d); ok {
			res.Blobs = append(res.Blobs, d)
			res.Reclaimed += n
		}
	}

	p.mu.Lock()
	for _, id := range rootfs {
		delete(p.deleting, rootfsPin(id))
	}
	for _, d := range blobs {
		delete(p.deleting, d)
	}
	p.mu.Unlock()
	close(done)
	return res
}

// settle ends an operation that pinned keys and created the root file
// systems ids and the blobs digests: it unpins, and deletes what it
// created that no registered image uses (everything, if it failed before
// registering).
func (s *Store) settle(keys, ids, digests []string) {
	s.pins.unpin(keys...)
	s.collect(ids, digests)
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

// Prune deletes the images no user (pod) holds, in any state: with all,
// every such image; without, only dangling ones (without a name). Then it
// runs GC.
func (s *Store) Prune(ctx context.Context, all bool) (PruneResult, error) {
	images, err := s.catalog.prune(all)
	if err != nil {
		return PruneResult{}, err
	}
	gc, err := s.GC(ctx)
	return PruneResult{Images: images, Reclaimed: gc.Reclaimed}, err
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
	recs, err := s.catalog.all()
	if err != nil {
		return du, err
	}
	held := s.catalog.holds.users()
	rootfsSize := map[string]int64{}
	for _, id := range s.rootfs.onDisk() {
		rootfsSize[id] = diskSize(s.rootfs.path(id))
	}
	blobSize := map[string]int64{}
	for _, d := range s.blobs.onDisk() {
		blobSize[d] = s.blobs.size(d)
	}
	activeBlobs := map[string]bool{}
	activeRootfs := map[string]bool{}
	referenced := map[string]bool{}
	for _, r := range recs {
		active := len(held[r.ID]) > 0
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
