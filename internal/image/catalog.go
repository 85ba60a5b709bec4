package image

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// catalog is the images' metadata and names, in bbolt buckets of the
// store's own under the top-level bucket "image.v1": the records, the
// names pointing at them, how a reference resolves, and removing and
// pruning, which decide with the holds (holds.go) under the holds' mutex
// and write after releasing it.
type catalog struct {
	db    *bbolt.DB
	holds holds
	// holdChecking, if set (by tests), runs in hold between recording
	// the pending holds and checking that the images exist.
	holdChecking func()
}

var (
	bucketTop    = []byte("image.v1")
	bucketImages = []byte("images") // image ID -> record JSON
	bucketNames  = []byte("names")  // canonical name -> image ID
)

// openCatalog creates the catalog's buckets in db if needed.
func openCatalog(db *bbolt.DB) (*catalog, error) {
	err := db.Update(func(tx *bbolt.Tx) error {
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
	return &catalog{db: db}, nil
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

// all returns every record.
func (c *catalog) all() ([]record, error) {
	var recs []record
	err := c.db.View(func(tx *bbolt.Tx) (err error) {
		images, _ := buckets(tx)
		recs, err = allRecords(images)
		return err
	})
	return recs, err
}

// list returns all images, most recently loaded first.
func (c *catalog) list() ([]Image, error) {
	recs, err := c.all()
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

// lookup resolves ref (see Store.Get) to its record; name is the
// canonical name when ref was resolved as a name.
func (c *catalog) lookup(ref string) (r *record, kind refKind, name string, err error) {
	err = c.db.View(func(tx *bbolt.Tx) error {
		r, kind, name, err = resolve(tx, ref)
		return err
	})
	return r, kind, name, err
}

// record returns the record of a full image ID.
func (c *catalog) record(id string) (*record, error) {
	var r *record
	err := c.db.View(func(tx *bbolt.Tx) error {
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

// references returns the IDs of the registered images and the digests of
// the blobs they reference.
func (c *catalog) references() (registered, used map[string]bool, err error) {
	used = map[string]bool{}
	registered = map[string]bool{}
	err = c.db.View(func(tx *bbolt.Tx) error {
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
	return registered, used, err
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

// tag gives the image that ref resolves to the name target (see Store.Tag).
func (c *catalog) tag(ref, target string) error {
	tref, err := parseName(target)
	if err != nil {
		return err
	}
	canon := canonical(tref)
	if strings.Contains(canon, "@") {
		return errdefs.InvalidArgument("cannot tag with a digest reference %q", target)
	}
	return c.db.Update(func(tx *bbolt.Tx) error {
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

// register records recs and gives them their names, all in one
// transaction: a record already stored (same config) keeps its manifest
// and blobs and only gains the names.
func (c *catalog) register(recs []*record) ([]Image, error) {
	var out []Image
	err := c.db.Update(func(tx *bbolt.Tx) error {
		images, _ := buckets(tx)
		out = out[:0]
		for _, rec := range recs {
			existing, err := getRecord(images, rec.ID)
			if err != nil {
				return err
			}
			if existing == nil {
				// A config already stored keeps its record (manifest and
				// blobs); only the names are added.
				fresh := *rec
				fresh.Names = nil
				if err := putRecord(images, &fresh); err != nil {
					return err
				}
			}
			for _, n := range rec.Names {
				r, err := getRecord(images, rec.ID)
				if err != nil {
					return err
				}
				if err := setName(tx, n, r); err != nil {
					return err
				}
			}
		}
		for _, rec := range recs {
			r, err := getRecord(images, rec.ID)
			if err != nil {
				return err
			}
			out = append(out, r.image())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("image store: register: %w", err)
	}
	return out, nil
}

// RemoveResult says what Remove did.
type RemoveResult struct {
	Untagged []string // canonical names removed
	Deleted  string   // image ID, when the image itself was deleted
	// Reclaimed is the disk space the store's GC freed after a deletion.
	Reclaimed int64
}

// removeTries bounds how often remove starts over when the image changes
// between its decision and its write transaction.
const removeTries = 8

// removal is what remove decided to do with a record.
type removal int

const (
	untagName   removal = iota + 1 // remove the name only
	deleteImage                    // delete the image and its names
)

// remove is Remove without the GC. It resolves ref, decides with the
// users under the holds' mutex (marking the image as removing if it will
// delete it, so that no Hold succeeds meanwhile), releases the mutex, and
// applies the decision in a write transaction if the record is still the
// one it decided on; if not, it starts over.
func (c *catalog) remove(ref string, force bool) (RemoveResult, error) {
	for try := 1; ; try++ {
		res, changed, err := c.removeOnce(ref, force)
		if !changed {
			return res, err
		}
		if try == removeTries {
			return RemoveResult{}, errdefs.Conflict("image %s keeps changing while being removed: try again", ref)
		}
	}
}

// removeOnce is one try of remove; changed says that the record changed
// after the decision, and nothing was done.
func (c *catalog) removeOnce(ref string, force bool) (res RemoveResult, changed bool, err error) {
	r, kind, canon, err := c.lookup(ref)
	if err != nil {
		return RemoveResult{}, false, err
	}
	c.holds.mu.Lock()
	do, err := decideRemoval(r, kind, canon, force, c.holds.usersLocked()[r.ID])
	if do == deleteImage {
		c.holds.markLocked(r.ID)
	}
	c.holds.mu.Unlock()
	if err != nil {
		return RemoveResult{}, false, err
	}
	if do == deleteImage {
		defer c.holds.unmark(r.ID)
	}
	err = c.db.Update(func(tx *bbolt.Tx) error {
		images, names := buckets(tx)
		now, nkind, ncanon, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		if nkind != kind || ncanon != canon || !sameRecord(now, r) {
			changed = true
			return nil
		}
		if do == untagName {
			if err := names.Delete([]byte(canon)); err != nil {
				return err
			}
			now.Names = without(now.Names, canon)
			res.Untagged = []string{canon}
			return putRecord(images, now)
		}
		res, err = deleteRecord(images, names, now)
		return err
	})
	if err != nil || changed {
		return RemoveResult{}, changed, err
	}
	return res, false, nil
}

// decideRemoval says what removing r (resolved from a reference of kind
// kind, as name canon) does, given the image's users, or why it is
// refused.
func decideRemoval(r *record, kind refKind, canon string, force bool, users []User) (removal, error) {
	if kind == byName && len(r.Names) > 1 {
		return untagName, nil
	}
	short := r.image().ShortID()
	var running *User
	for i := range users {
		if users[i].Running {
			running = &users[i]
			break
		}
	}
	if kind == byName {
		if len(users) > 0 && !force {
			return 0, errdefs.Conflict("unable to remove repository reference %q (must force) - pod %s is using its referenced image %s", FamiliarName(canon), users[0].Name, short)
		}
		if running != nil {
			return untagName, nil
		}
	} else {
		if running != nil {
			return 0, errdefs.Conflict("unable to delete %s (cannot be forced) - image is being used by running pod %s", short, running.Name)
		}
		if len(r.Names) > 1 && !force {
			return 0, errdefs.Conflict("unable to delete %s (must be forced) - image has several names (%s)", short, familiarNames(r.Names))
		}
		if len(users) > 0 && !force {
			return 0, errdefs.Conflict("unable to delete %s (must be forced) - image is being used by stopped pod %s", short, users[0].Name)
		}
	}
	return deleteImage, nil
}

// sameRecord tells whether b is still the record a was: the same image
// with the same names.
func sameRecord(a, b *record) bool {
	if a.ID != b.ID || len(a.Names) != len(b.Names) {
		return false
	}
	an, bn := slices.Clone(a.Names), slices.Clone(b.Names)
	sort.Strings(an)
	sort.Strings(bn)
	return slices.Equal(an, bn)
}

// deleteRecord deletes r and its names.
func deleteRecord(images, names *bbolt.Bucket, r *record) (RemoveResult, error) {
	for _, n := range r.Names {
		if err := names.Delete([]byte(n)); err != nil {
			return RemoveResult{}, err
		}
	}
	if err := images.Delete([]byte(r.ID)); err != nil {
		return RemoveResult{}, err
	}
	untagged := append([]string(nil), r.Names...)
	sort.Strings(untagged)
	return RemoveResult{Untagged: untagged, Deleted: r.ID}, nil
}

func familiarNames(canon []string) string {
	out := make([]string, len(canon))
	for i, n := range canon {
		out[i] = FamiliarName(n)
	}
	return strings.Join(out, ", ")
}

// prune is Prune without the GC: it deletes the images nobody holds, all
// of them or the dangling ones only. It reads the records, decides with
// the holds under their mutex (marking the images it will delete as
// removing), releases it, and deletes those of the images that still
// qualify in a write transaction.
func (c *catalog) prune(all bool) ([]RemoveResult, error) {
	recs, err := c.all()
	if err != nil {
		return nil, err
	}
	qualifies := func(r *record) bool { return all || len(r.Names) == 0 }
	var ids []string
	c.holds.mu.Lock()
	held := c.holds.usersLocked()
	for i := range recs {
		if r := &recs[i]; qualifies(r) && len(held[r.ID]) == 0 {
			ids = append(ids, r.ID)
		}
	}
	c.holds.markLocked(ids...)
	c.holds.mu.Unlock()
	defer c.holds.unmark(ids...)
	if len(ids) == 0 {
		return nil, nil
	}
	var out []RemoveResult
	err = c.db.Update(func(tx *bbolt.Tx) error {
		images, names := buckets(tx)
		out = out[:0]
		for _, id := range ids {
			r, err := getRecord(images, id)
			if err != nil {
				return err
			}
			if r == nil || !qualifies(r) {
				continue // gone, or named, since: as if it happened after
			}
			res, err := deleteRecord(images, names, r)
			if err != nil {
				return err
			}
			out = append(out, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hold adds ids to what holder holds once each has a record. Under the
// holds' mutex it refuses an image being removed and records the others
// as pending (held from then on: no remove or prune deletes them without
// force); then, without the mutex, it checks that they exist, and keeps
// them held or drops them.
func (c *catalog) hold(holder string, u User, ids []string) error {
	c.holds.mu.Lock()
	if id, ok := c.holds.removingLocked(ids); ok {
		c.holds.mu.Unlock()
		return errdefs.NotFound("image %s is being removed", id)
	}
	p := c.holds.beginLocked(holder, u, ids)
	c.holds.mu.Unlock()
	if c.holdChecking != nil {
		c.holdChecking()
	}
	err := c.db.View(func(tx *bbolt.Tx) error {
		images, _ := buckets(tx)
		for _, id := range ids {
			if images.Get([]byte(id)) == nil {
				return errdefs.NotFound("no such image: %s", id)
			}
		}
		return nil
	})
	c.holds.end(p, err == nil)
	return err
}
