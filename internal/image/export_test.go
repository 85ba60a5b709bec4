package image

// BuildCount is how many root file systems s has built.
func BuildCount(s *Store) int64 { return s.rootfs.buildCount.Load() }

// Removing tells whether a removal or prune of image id has decided to
// delete it and not finished.
func Removing(s *Store, id string) bool {
	s.catalog.holds.mu.Lock()
	defer s.catalog.holds.mu.Unlock()
	return s.catalog.holds.removing[id] > 0
}

// OnHoldCheck makes f run in every Hold of s between recording the holds
// and checking that the images exist.
func OnHoldCheck(s *Store, f func()) { s.catalog.holdChecking = f }

// OnCollect makes scanned run in every GC of s once it has read the
// registered images, and deleting once it has decided what to delete.
func OnCollect(s *Store, scanned, deleting func()) { s.scanned, s.deleting = scanned, deleting }

// Pin and Unpin pin and unpin blobs (by digest) as an operation in flight
// does.
func Pin(s *Store, digests ...string)   { s.pins.pin(digests...) }
func Unpin(s *Store, digests ...string) { s.pins.unpin(digests...) }
