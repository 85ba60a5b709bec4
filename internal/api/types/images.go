package types

// ImageDeleteResponse answers DELETE /v1/images/{ref} (200): the names
// removed ("busybox:latest") and, when the image itself was deleted, its
// ID. Reclaimed is the disk space the store's garbage collection freed
// afterwards, in bytes.
type ImageDeleteResponse struct {
	Untagged  []string `json:"untagged"`
	Deleted   string   `json:"deleted,omitempty"`
	Reclaimed int64    `json:"reclaimed"`
}

// ImagePruneResponse answers POST /v1/images/prune.
type ImagePruneResponse struct {
	Images    []ImageDeleteResponse `json:"images"`
	Reclaimed int64                 `json:"reclaimed"` // bytes freed on disk
}

// DiskUsageEntry is the disk usage of one kind of thing in the store.
// Sizes are bytes allocated on disk (sparse files count what they store);
// files shared by several images count once.
type DiskUsageEntry struct {
	Count       int   `json:"count"`
	Active      int   `json:"active"`      // images some pod uses, or files they need
	Size        int64 `json:"size"`        // bytes on disk
	Reclaimable int64 `json:"reclaimable"` // freed by removing every image no pod uses
}

// DiskUsage answers GET /v1/system/df.
type DiskUsage struct {
	Images DiskUsageEntry `json:"images"` // images: their blobs and root file systems
	Rootfs DiskUsageEntry `json:"rootfs"` // EROFS root file systems on disk
	Blobs  DiskUsageEntry `json:"blobs"`  // manifests, configs, layers on disk
}

// PushEvent is one line of the NDJSON stream answering
// POST /v1/images/push: progress events carry Status "pushing" and
// Current/Total bytes; the last carries Digest (success: the manifest
// digest, Name the canonical name pushed, Size the manifest size) or Error
// and ErrorCode (the HTTP status the error would have had).
type PushEvent struct {
	Status    string `json:"status,omitempty"`
	Current   int64  `json:"current,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Name      string `json:"name,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorCode int    `json:"errorCode,omitempty"`
}
