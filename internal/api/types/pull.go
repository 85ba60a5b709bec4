package types

// PullEvent is one line of the NDJSON stream answering
// POST /v1/images/pull. Progress events carry ID (a layer's short digest,
// or the reference while resolving), Status ("resolving", "waiting",
// "exists", "downloading", "verifying", "extracting", "done") and, while
// downloading, Current and Total bytes. The last event carries either
// Image (success) or Error (failure; ErrorCode is the HTTP status the
// error would have had).
type PullEvent struct {
	ID        string `json:"id,omitempty"`
	Status    string `json:"status,omitempty"`
	Current   int64  `json:"current,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Image     *Image `json:"image,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorCode int    `json:"errorCode,omitempty"`
}
