// Package image is Hyper's image store. It pulls images from registries
// (Pull) and loads them from `docker save` archives and OCI image layouts,
// keeps their blobs content-addressed,
// names them, saves them back, and turns each image into ONE read-only
// EROFS image of its merged root file system, which a pod's VM attaches as
// a block device (see docs/adr/0005-image-rootfs.md).
//
// On disk, under the store's root:
//
//	blobs/sha256/<hex>        manifests, configs and layers, as loaded
//	rootfs/<id-hex>.erofs     merged root file systems, 0444, built once
//	tmp/                      spooled archives and files being written
//
// Metadata (names, images) lives in bbolt buckets of the store's own under
// the top-level bucket "image.v1". An image's ID is the digest of its
// config; its manifest digest is kept as loaded, so saving and loading an
// image again keeps both.
package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// Defaults for Options.
const (
	DefaultMaxArchiveSize = 64 << 30
	DefaultMaxImageSize   = 64 << 30
	DefaultMaxEntries     = 2 << 20
)

// Options tune a Store. Zero fields take the defaults.
type Options struct {
	// MaxArchiveSize bounds the (decompressed) archive given to Load.
	MaxArchiveSize int64
	// MaxImageSize bounds the uncompressed size of one image: the bytes
	// read out of its decompressed layers, and the file contents that
	// go into its root file system. This is the gzip-bomb bound.
	MaxImageSize int64
	// MaxEntries bounds the tar entries of one image, over all layers.
	MaxEntries int
	// InUse lists the users of an image (by ID), e.g. the pods whose
	// containers run it. Remove and Prune consult it (see Remove); nil
	// means never in use.
	InUse func(id string) []User
}

// User is a user of an image, e.g. a pod.
type User struct {
	Name string // e.g. the pod's name, for messages
	// Running users (running or starting pods) have the image's root file
	// system attached: the image is never deleted under them, force or not.
	Running bool
}

// Store is the image store. It is safe for concurrent use.
type Store struct {
	root string
	db   *bbolt.DB
	opts Options

	mu     sync.Mutex
	pins   map[string]int    // blob digest or rootfsPin(id) -> in-flight users
	builds map[string]*build // image ID -> rootfs build in progress

	buildCount atomic.Int64 // root file systems built, for tests
}

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
		},
	}
}

var (
	bucketTop    = []byte("image.v1")
	bucketImages = []byte("images") // image ID -> record JSON
	bucketNames  = []byte("names")  // canonical name -> image ID
)

// Open opens (creating if needed) the store rooted at root, keeping its
// metadata in db. Leftovers of interrupted operations in root/tmp are
// removed.
func Open(root string, db *bbolt.DB, opts Options) (*Store, error) {
	if opts.MaxArchiveSize <= 0 {
		opts.MaxArchiveSize = DefaultMaxArchiveSize
	}
	if opts.MaxImageSize <= 0 {
		opts.MaxImageSize = DefaultMaxImageSize
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{root, filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "rootfs"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	tmps, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range tmps {
		os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketTop)
		if err != nil {
			return err
		}
		if _, err := top.CreateBucketIfNotExists(bucketImages); err != nil {
			return err
		}
		_, err = top.CreateBucketIfNotExists(bucketNames)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("image store: metadata: %w", err)
	}
	s := &Store{root: root, db: db, opts: opts, pins: map[string]int{}, builds: map[string]*build{}}
	s.GC(context.Background())
	return s, nil
}

func buckets(tx *bbolt.Tx) (images, names *bbolt.Bucket) {
	top := tx.Bucket(bucketTop)
	return top.Bucket(bucketImages), top.Bucket(bucketNames)
}

func getRecord(images *bbolt.Bucket, id string) (*record, error) {
	v := images.Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("image store: corrupt record %s: %w", id, err)
	}
	return &r, nil
}

func putRecord(images *bbolt.Bucket, r *record) error {
	sort.Strings(r.Names)
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return images.Put([]byte(r.ID), v)
}

// allRecords decodes every image record of the bucket.
func allRecords(images *bbolt.Bucket) ([]record, error) {
	var recs []record
	err := images.ForEach(func(k, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("image store: corrupt record %s: %w", k, err)
		}
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// List returns all images, most recently loaded first.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	var recs []record
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		images, _ := buckets(tx)
		recs, err = allRecords(images)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Loaded.After(recs[j].Loaded) })
	out := make([]Image, len(recs))
	for i := range recs {
		out[i] = recs[i].image()
	}
	return out, nil
}

// refKind says how a reference was resolved.
type refKind int

const (
	byName refKind = iota
	byID
	byDigest
)

// Get resolves ref to an image: a name ("busybox", "busybox:1.36",
// "repo@sha256:<manifest digest>"), a full ID ("sha256:<hex>" or
// "<hex>") or an unambiguous ID prefix ("3f57d9401f8d"). Errors:
// errdefs.ErrInvalidArgument for malformed references, ErrNotFound,
// and ErrConflict for a prefix matching several images.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	var img Image
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, _, _, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		img = r.image()
		return nil
	})
	return img, err
}

// resolve finds the record for ref; name is the canonical name when ref
// was resolved as a name.
func resolve(tx *bbolt.Tx, ref string) (*record, refKind, string, error) {
	images, names := buckets(tx)
	if ref == "" {
		return nil, 0, "", errdefs.InvalidArgument("empty image reference")
	}
	hexPart, hasAlg := strings.CutPrefix(ref, "sha256:")
	if isHex(hexPart) && len(hexPart) <= 64 {
		// A bare hex string may also be a name (repository "abc"): Docker
		// tries the name first, then the ID prefix.
		if !hasAlg && len(hexPart) < 64 {
			if canon, err := NormalizeName(ref); err == nil {
				if id := names.Get([]byte(canon)); id != nil {
					r, err := getRecord(images, string(id))
					if err != nil || r == nil {
						return nil, 0, "", notFoundOr(err, ref)
					}
					return r, byName, canon, nil
				}
			}
		}
		r, err := byPrefix(images, "sha256:"+hexPart)
		return r, byID, "", err
	}
	if hasAlg {
		return nil, 0, "", errdefs.InvalidArgument("invalid image ID %q", ref)
	}
	pr, err := parseName(ref)
	if err != nil {
		return nil, 0, "", err
	}
	canon := canonical(pr)
	if strings.Contains(canon, "@") {
		dgst := canon[strings.LastIndexByte(canon, '@')+1:]
		// A pull by the digest of an index records that reference as a name.
		if id := names.Get([]byte(canon)); id != nil {
			if r, err := getRecord(images, string(id)); err != nil || r != nil {
				return r, byName, canon, err
			}
		}
		recs, err := allRecords(images)
		if err != nil {
			return nil, 0, "", err
		}
		var found *record
		for i := range recs {
			if recs[i].Manifest.Digest == dgst {
				found = &recs[i]
			}
		}
		if found == nil {
			return nil, 0, "", errdefs.NotFound("no such image: %s", ref)
		}
		return found, byDigest, "", nil
	}
	id := names.Get([]byte(canon))
	if id == nil {
		return nil, 0, "", errdefs.NotFound("no such image: %s", ref)
	}
	r, err := getRecord(images, string(id))
	if err != nil || r == nil {
		return nil, 0, "", notFoundOr(err, ref)
	}
	return r, byName, canon, nil
}

func notFoundOr(err error, ref string) error {
	if err != nil {
		return err
	}
	return errdefs.NotFound("no such image: %s", ref)
}

func byPrefix(images *bbolt.Bucket, prefix string) (*record, error) {
	c := images.Cursor()
	var match []byte
	n := 0
	for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
		n++
		match = v
		if n > 1 {
			return nil, errdefs.Conflict("image ID prefix %q is ambiguous", strings.TrimPrefix(prefix, "sha256:"))
		}
	}
	if n == 0 {
		return nil, errdefs.NotFound("no such image: %s", strings.TrimPrefix(prefix, "sha256:"))
	}
	var r record
	if err := json.Unmarshal(match, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Tag gives the image that ref resolves to the name target (a tag, not a
// digest). A name already given to another image moves.
func (s *Store) Tag(ctx context.Context, ref, target string) error {
	tref, err := parseName(target)
	if err != nil {
		return err
	}
	canon := canonical(tref)
	if strings.Contains(canon, "@") {
		return errdefs.InvalidArgument("cannot tag with a digest reference %q", target)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		r, _, _, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		return setName(tx, canon, r)
	})
}

// setName points canon at r, taking it away from another image.
func setName(tx *bbolt.Tx, canon string, r *record) error {
	images, names := buckets(tx)
	if old := names.Get([]byte(canon)); old != nil && string(old) != r.ID {
		or, err := getRecord(images, string(old))
		if err != nil {
			return err
		}
		if or != nil {
			or.Names = without(or.Names, canon)
			if err := putRecord(images, or); err != nil {
				return err
			}
		}
	}
	if err := names.Put([]byte(canon), []byte(r.ID)); err != nil {
		return err
	}
	if !contains(r.Names, canon) {
		r.Names = append(r.Names, canon)
	}
	return putRecord(images, r)
}

func without(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RemoveResult says what Remove did.
type RemoveResult struct {
	Untagged []string // canonical names removed
	Deleted  string   // image ID, when the image itself was deleted
	// Reclaimed is the disk space the store's GC freed after a deletion.
	Reclaimed int64
}

// Remove removes ref, like `docker rmi`:
//
//   - removing one of several names of an image only untags it;
//   - removing its last name, or the image by ID, deletes the image, then
//     the store garbage-collects (GC) its root file system and the blobs
//     no other image uses;
//   - an image with several names is deleted by ID only with force;
//   - an image some user (pod) uses is refused (Conflict, naming the
//     user) unless force is given; with force, an image only stopped pods
//     use is deleted (those pods cannot start again), while one a running
//     pod uses is never deleted: removing its last name with force only
//     untags it (it stays, dangling, until the pod is gone), removing it
//     by ID is refused, force or not.
func (s *Store) Remove(ctx context.Context, ref string, force bool) (RemoveResult, error) {
	var res RemoveResult
	s.mu.Lock()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		images, names := buckets(tx)
		r, kind, canon, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		untag := func() error {
			if err := names.Delete([]byte(canon)); err != nil {
				return err
			}
			r.Names = without(r.Names, canon)
			res.Untagged = []string{canon}
			return putRecord(images, r)
		}
		if kind == byName && len(r.Names) > 1 {
			return untag()
		}
		short := r.image().ShortID()
		users := s.users(r.ID)
		var running *User
		for i := range users {
			if users[i].Running {
				running = &users[i]
				break
			}
		}
		if kind == byName {
			if len(users) > 0 && !force {
				return errdefs.Conflict("unable to remove repository reference %q (must force) - pod %s is using its referenced image %s", FamiliarName(canon), users[0].Name, short)
			}
			if running != nil {
				return untag()
			}
		} else {
			if running != nil {
				return errdefs.Conflict("unable to delete %s (cannot be forced) - image is being used by running pod %s", short, running.Name)
			}
			if len(r.Names) > 1 && !force {
				return errdefs.Conflict("unable to delete %s (must be forced) - image has several names (%s)", short, familiarNames(r.Names))
			}
			if len(users) > 0 && !force {
				return errdefs.Conflict("unable to delete %s (must be forced) - image is being used by stopped pod %s", short, users[0].Name)
			}
		}
		for _, n := range r.Names {
			if err := names.Delete([]byte(n)); err != nil {
				return err
			}
		}
		res.Untagged = append([]string(nil), r.Names...)
		sort.Strings(res.Untagged)
		res.Deleted = r.ID
		return images.Delete([]byte(r.ID))
	})
	s.mu.Unlock()
	if err != nil {
		return RemoveResult{}, err
	}
	if res.Deleted != "" {
		gc, _ := s.GC(ctx)
		res.Reclaimed = gc.Reclaimed
	}
	return res, nil
}

// users returns the users of image id.
func (s *Store) users(id string) []User {
	if s.opts.InUse == nil {
		return nil
	}
	return s.opts.InUse(id)
}

func familiarNames(canon []string) string {
	out := make([]string, len(canon))
	for i, n := range canon {
		out[i] = FamiliarName(n)
	}
	return strings.Join(out, ", ")
}

// collectLocked deletes the root file systems of ids and the blobs in
// digests that no registered image references and no operation in flight
// has pinned, and says what it freed. s.mu must be held.
func (s *Store) collectLocked(ids, digests []string) GCResult {
	var res GCResult
	used := map[string]bool{}
	registered := map[string]bool{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		images, _ := buckets(tx)
		return images.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			registered[r.ID] = true
			for _, d := range r.blobs() {
				used[d] = true
			}
			return nil
		})
	})
	if err != nil {
		return res // keep everything rather than guess
	}
	for _, id := range ids {
		if !registered[id] && s.pins[rootfsPin(id)] == 0 && s.builds[id] == nil {
			p := s.rootfsPath(id)
			n := diskSize(p)
			if os.Remove(p) == nil {
				res.Rootfs = append(res.Rootfs, id)
				res.Reclaimed += n
			}
		}
	}
	for _, d := range digests {
		if !used[d] && s.pins[d] == 0 {
			if p, err := s.blobPath(d); err == nil {
				n := diskSize(p)
				if os.Remove(p) == nil {
					res.Blobs = append(res.Blobs, d)
					res.Reclaimed += n
				}
			}
		}
	}
	return res
}

func rootfsPin(id string) string { return "rootfs:" + id }

func (s *Store) pin(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.pins[k]++
	}
}

func (s *Store) unpin(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unpinLocked(keys...)
}

func (s *Store) unpinLocked(keys ...string) {
	for _, k := range keys {
		if s.pins[k]--; s.pins[k] <= 0 {
			delete(s.pins, k)
		}
	}
}

func (s *Store) rootfsPath(id string) string {
	return filepath.Join(s.root, "rootfs", strings.TrimPrefix(id, "sha256:")+".erofs")
}

func (s *Store) blobPath(dgst string) (string, error) {
	h, ok := strings.CutPrefix(dgst, "sha256:")
	if !ok || len(h) != 64 || !isHex(h) {
		return "", errdefs.InvalidArgument("unsupported digest %q", dgst)
	}
	return filepath.Join(s.root, "blobs", "sha256", h), nil
}

func (s *Store) tmpDir() string { return filepath.Join(s.root, "tmp") }

// record returns the record of a full image ID.
func (s *Store) record(id string) (*record, error) {
	var r *record
	err := s.db.View(func(tx *bbolt.Tx) error {
		images, _ := buckets(tx)
		var err error
		r, err = getRecord(images, id)
		return err
	})
	if err == nil && r == nil {
		err = errdefs.NotFound("no such image: %s", id)
	}
	return r, err
}
