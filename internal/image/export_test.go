package image

// BuildCount is how many root file systems s has built.
func BuildCount(s *Store) int64 { return s.rootfs.buildCount.Load() }
