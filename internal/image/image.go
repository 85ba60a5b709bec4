package image

import (
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is a stored image.
type Image struct {
	ID             string    // digest of the config, "sha256:<hex>"
	ManifestDigest string    // digest of the manifest, as loaded
	Names          []string  // canonical names, e.g. "docker.io/library/busybox:latest", sorted
	Size           int64     // uncompressed size of the layers
	Created        time.Time // from the config
	OS             string
	Architecture   string
	DiffIDs        []string // uncompressed layer digests, bottom first
	Config         Config
}

// Config is what running a container of the image needs.
type Config struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	ExposedPorts []string // "80/tcp", sorted
	StopSignal   string
	Labels       map[string]string
	// Healthcheck is the image's HEALTHCHECK, nil if none.
	Healthcheck *v1.HealthConfig
}

// ShortID is the first 12 hex digits of the ID, as Docker shows it.
func (i Image) ShortID() string {
	h := strings.TrimPrefix(i.ID, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// descriptor is a blob reference in a record.
type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// record is an image's metadata in bbolt.
type record struct {
	ID       string       `json:"id"`
	Manifest descriptor   `json:"manifest"`
	Config   descriptor   `json:"config"`
	Layers   []descriptor `json:"layers"`
	DiffIDs  []string     `json:"diffIDs"`
	Size     int64        `json:"size"`
	Names    []string     `json:"names,omitempty"`
	Created  time.Time    `json:"created"`
	Loaded   time.Time    `json:"loaded"`
	OS       string       `json:"os"`
	Arch     string       `json:"architecture"`
	Run      v1.Config    `json:"runConfig"`
}

func (r *record) blobs() []string {
	out := []string{r.Manifest.Digest, r.Config.Digest}
	for _, l := range r.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func (r *record) image() Image {
	ports := make([]string, 0, len(r.Run.ExposedPorts))
	for p := range r.Run.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	names := append([]string(nil), r.Names...)
	sort.Strings(names)
	var labels map[string]string
	if len(r.Run.Labels) > 0 {
		labels = make(map[string]string, len(r.Run.Labels))
		for k, v := range r.Run.Labels {
			labels[k] = v
		}
	}
	return Image{
		ID:             r.ID,
		ManifestDigest: r.Manifest.Digest,
		Names:          names,
		Size:           r.Size,
		Created:        r.Created,
		OS:             r.OS,
		Architecture:   r.Arch,
		DiffIDs:        append([]string(nil), r.DiffIDs...),
		Config: Config{
			Entrypoint:   append([]string(nil), r.Run.Entrypoint...),
			Cmd:          append([]string(nil), r.Run.Cmd...),
			Env:          append([]string(nil), r.Run.Env...),
			WorkingDir:   r.Run.WorkingDir,
			User:         r.Run.User,
			ExposedPorts: ports,
			StopSignal:   r.Run.StopSignal,
			Labels:       labels,
			Healthcheck:  r.Run.Healthcheck,
		},
	}
}
