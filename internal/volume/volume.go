// Package volume keeps the named volumes hyperd manages: sparse ext4 disk
// images that outlive pods, one record each in the state database. Which
// pods use a volume is the daemon's business, not this package's.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/hyperhq/hyper/internal/disk"
	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/store"
)

const bucket = "volumes"

// DefaultSizeMB is the size of a volume created without one: 10 GiB,
// taking host space only as the guest writes.
const DefaultSizeMB = 10 << 10

// MaxSizeMB bounds a volume's size (16 TiB, ext4's limit with 4k blocks).
const MaxSizeMB = 16 << 20

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// CheckName refuses a volume name that is not [a-zA-Z0-9][a-zA-Z0-9_.-]*
// (at most 128 characters).
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return errdefs.InvalidArgument("invalid volume name %q: use letters, digits, '_', '.', '-', starting with a letter or digit (at most 128)", name)
	}
	return nil
}

// Record is what the store keeps of a volume.
type Record struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	SizeMB  int               `json:"sizeMB"`
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels,omitempty"`
	Path    string            `json:"path"` // the disk image
}

// Serial is the volume disk's serial: "v-" and 18 characters of its ID
// (20 bytes, the most a disk serial holds), stable across pods.
func (r Record) Serial() string { return "v-" + r.ID[:18] }

// Store is the named volumes under one directory.
type Store struct {
	db  *store.DB
	dir string
	// mu guards busy only: the names being created or removed (closed
	// when done). Creations and removals of one name wait for each other
	// (begin); their disk and database I/O runs without mu, and other
	// names' meanwhile.
	mu   sync.Mutex
	busy map[string]chan struct{}
}

// begin waits until no creation or removal of name is under way and
// starts one; the function returned ends it.
func (s *Store) begin(name string) (end func()) {
	s.mu.Lock()
	for s.busy[name] != nil {
		ch := s.busy[name]
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	if s.busy == nil {
		s.busy = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	s.busy[name] = ch
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
		close(ch)
	}
}

// Open opens the volumes kept in dir and recorded in db.
func Open(dir string, db *store.DB) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	return &Store{db: db, dir: dir}, nil
}

// Create makes a new volume; Conflict if the name is taken.
func (s *Store) Create(name string, sizeMB int, labels map[string]string) (Record, error) {
	r, created, err := s.ensure(name, sizeMB, labels)
	if err == nil && !created {
		err = errdefs.Conflict("volume %s already exists", name)
	}
	return r, err
}

// Ensure returns the volume name, creating it (with the default size) if
// it does not exist; created tells which.
func (s *Store) Ensure(name string) (Record, bool, error) {
	return s.ensure(name, 0, nil)
}

func (s *Store) ensure(name string, sizeMB int, labels map[string]string) (Record, bool, error) {
	if err := CheckName(name); err != nil {
		return Record{}, false, err
	}
	if sizeMB < 0 || sizeMB > MaxSizeMB {
		return Record{}, false, errdefs.InvalidArgument("volume size %d MB: want 1 to %d", sizeMB, MaxSizeMB)
	}
	if sizeMB == 0 {
		sizeMB = DefaultSizeMB
	}
	defer s.begin(name)()
	if r, err := s.Get(name); err == nil {
		return r, false, nil
	} else if !errors.Is(err, errdefs.ErrNotFound) {
		return Record{}, false, err
	}
	b := make([]byte, 32)
	rand.Read(b)
	id := hex.EncodeToString(b)
	r := Record{Name: name, ID: id, SizeMB: sizeMB, Created: time.Now().UTC(), Labels: labels,
		Path: filepath.Join(s.dir, id+".ext4")}
	if err := disk.CreateExt4(r.Path, sizeMB); err != nil {
		return Record{}, false, fmt.Errorf("volume %s: %w", name, err)
	}
	if err := s.db.Create(bucket, name, r); err != nil {
		os.Remove(r.Path)
		return Record{}, false, err
	}
	return r, true, nil
}

// Get returns the volume name; NotFound if there is none.
func (s *Store) Get(name string) (Record, error) {
	var r Record
	if err := s.db.Get(bucket, name, &r); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return Record{}, errdefs.NotFound("no such volume: %s", name)
		}
		return Record{}, err
	}
	return r, nil
}

// List returns every volume, by name.
func (s *Store) List() ([]Record, error) {
	rs, err := store.List[Record](s.db, bucket)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
	return rs, err
}

// Remove deletes the volume name and its data. The caller makes sure no
// pod uses it.
func (s *Store) Remove(name string) error {
	defer s.begin(name)()
	r, err := s.Get(name)
	if err != nil {
		return err
	}
	if err := s.db.Delete(bucket, name); err != nil {
		return err
	}
	if err := os.Remove(r.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return nil
}
