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
//
// The Store composes three parts, each with its own file: the blob store
// (blobStore, blobs.go), the catalog of records and names with the holds
// of the images' users (catalog.go, holds.go), and the root file systems
// (rootfsStore, rootfs.go); GC (gc.go) spans them. Holds are data that the
// caller keeps up to date (Hold, SetHolds, Release): the store never calls
// back. The lock order is at the top of holds.go.
package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
}

// Store is the image store. It is safe for concurrent use.
type Store struct {
	opts    Options
	tmp     string // <root>/tmp
	pins    *pinSet
	blobs   *blobStore
	catalog *catalog
	rootfs  *rootfsStore
	// scanned and deleting, if set (by tests), run in collect after it
	// read the registered images, and after it decided what to delete.
	scanned, deleting func()
}

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
	blobDir, rootfsDir, tmp := filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "rootfs"), filepath.Join(root, "tmp")
	for _, d := range []string{root, blobDir, rootfsDir, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	tmps, _ := os.ReadDir(tmp)
	for _, e := range tmps {
		os.RemoveAll(filepath.Join(tmp, e.Name()))
	}
	cat, err := openCatalog(db)
	if err != nil {
		return nil, err
	}
	pins := &pinSet{}
	blobs := &blobStore{dir: blobDir, tmp: tmp, pins: pins}
	s := &Store{opts: opts, tmp: tmp, pins: pins, blobs: blobs, catalog: cat,
		rootfs: &rootfsStore{dir: rootfsDir, tmp: tmp, blobs: blobs, pins: pins, record: cat.record,
			maxImageSize: opts.MaxImageSize, maxEntries: opts.MaxEntries, builds: map[string]*build{}}}
	s.GC(context.Background())
	return s, nil
}

// List returns all images, most recently loaded first.
func (s *Store) List(ctx context.Context) ([]Image, error) { return s.catalog.list() }

// Get resolves ref to an image: a name ("busybox", "busybox:1.36",
// "repo@sha256:<manifest digest>"), a full ID ("sha256:<hex>" or
// "<hex>") or an unambiguous ID prefix ("3f57d9401f8d"). Errors:
// errdefs.ErrInvalidArgument for malformed references, ErrNotFound,
// and ErrConflict for a prefix matching several images.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	r, _, _, err := s.catalog.lookup(ref)
	if err != nil {
		return Image{}, err
	}
	return r.image(), nil
}

// Tag gives the image that ref resolves to the name target (a tag, not a
// digest). A name already given to another image moves.
func (s *Store) Tag(ctx context.Context, ref, target string) error { return s.catalog.tag(ref, target) }

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
//
// The users are the holders of the image (Hold, SetHolds).
func (s *Store) Remove(ctx context.Context, ref string, force bool) (RemoveResult, error) {
	res, err := s.catalog.remove(ref, force)
	if err != nil {
		return RemoveResult{}, err
	}
	if res.Deleted != "" {
		gc, _ := s.GC(ctx)
		res.Reclaimed = gc.Reclaimed
	}
	return res, nil
}

// Hold records that holder (e.g. a pod's ID), as user u, uses the images
// ids (full IDs), besides those it holds already, once each is known to
// exist: ErrNotFound, and no change, for an image that is not (or no
// longer) in the store, and for one a Remove or Prune is deleting. Remove
// and Prune respect holds: Hold records the images before it checks that
// they exist, and they count as held from then on; Remove and Prune mark
// the images they decide to delete before they delete them, and Hold
// refuses a marked image. So an image held is never removed unless with
// force (and never with force while its user runs). A caller holds an
// image before it records its use of the image, and so never records a
// use of an image removed meanwhile.
func (s *Store) Hold(holder string, u User, ids ...string) error {
	return s.catalog.hold(holder, u, ids)
}

// SetHolds makes holder, as user u, hold exactly ids (none: nothing), as
// the holder's state says now (which images it uses, whether it runs);
// unlike Hold it does not check that they exist.
func (s *Store) SetHolds(holder string, u User, ids []string) { s.catalog.holds.set(holder, u, ids) }

// Release drops every hold of holder.
func (s *Store) Release(holder string) { s.catalog.holds.release(holder) }

// Rootfs returns the path of the EROFS image holding the merged root file
// system of the image ref resolves to (normally a full ID). The file is
// built once per image, kept read-only (0444), and stays until the image
// is removed. Callers must not modify it.
func (s *Store) Rootfs(ctx context.Context, ref string) (string, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	rec, err := s.catalog.record(img.ID)
	if err != nil {
		return "", err
	}
	keys := append(rec.blobs(), rootfsPin(rec.ID))
	s.pins.pin(keys...)
	defer func() {
		s.pins.unpin(keys...)
		if _, err := s.catalog.record(rec.ID); errors.Is(err, errdefs.ErrNotFound) {
			// Removed while we built: do not leave its files behind.
			s.collect([]string{rec.ID}, rec.blobs())
		}
	}()
	if _, err := s.rootfs.ensure(ctx, rec); err != nil {
		return "", err
	}
	return s.rootfs.path(rec.ID), nil
}
