package image

// Lock order in this package, outermost first; a lock is only ever taken
// while holding those before it:
//
//	the caller's locks (hyperd's daemon and pod locks)
//	→ holds.mu (catalog.remove, catalog.prune, catalog.hold)
//	→ pinSet.mu, the GC lock (gc.go)
//	→ rootfsStore.mu (rootfs.go)
//	→ a bbolt transaction
//
// holds.mu and pinSet.mu are never held together. Nothing in the package
// calls out to its caller (there are no callbacks) or takes a lock inside
// a bbolt transaction: the users of an image are data, kept here, which
// the caller updates.

import (
	"sort"
	"sync"
)

// User is a user of an image, e.g. a pod.
type User struct {
	Name string // e.g. the pod's name, for messages
	// Running users (running or starting pods) have the image's root file
	// system attached: the image is never deleted under them, force or not.
	Running bool
}

// holds are who uses which image: holder (e.g. a pod's ID) -> the user it
// is and the images it holds. The store's caller keeps them (Store.Hold,
// SetHolds, Release); Remove and Prune read them under mu, which they
// keep until their write transaction ends.
type holds struct {
	mu sync.Mutex
	by map[string]holding
}

type holding struct {
	user User
	ids  map[string]bool
}

// addLocked makes holder, as user u, hold ids as well as what it held.
func (h *holds) addLocked(holder string, u User, ids []string) {
	if h.by == nil {
		h.by = map[string]holding{}
	}
	hd, ok := h.by[holder]
	if !ok {
		hd.ids = map[string]bool{}
	}
	hd.user = u
	for _, id := range ids {
		hd.ids[id] = true
	}
	h.by[holder] = hd
}

// set makes holder, as user u, hold exactly ids (none: nothing).
func (h *holds) set(holder string, u User, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.by, holder)
	if len(ids) > 0 {
		h.addLocked(holder, u, ids)
	}
}

// release drops what holder holds.
func (h *holds) release(holder string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.by, holder)
}

// usersLocked returns the users of each held image, by name (then holder,
// for holders of the same name).
func (h *holds) usersLocked() map[string][]User {
	holders := make([]string, 0, len(h.by))
	for k := range h.by {
		holders = append(holders, k)
	}
	sort.Slice(holders, func(i, j int) bool {
		a, b := h.by[holders[i]].user.Name, h.by[holders[j]].user.Name
		return a < b || a == b && holders[i] < holders[j]
	})
	out := map[string][]User{}
	for _, k := range holders {
		hd := h.by[k]
		for id := range hd.ids {
			out[id] = append(out[id], hd.user)
		}
	}
	return out
}

// users is usersLocked taking the lock.
func (h *holds) users() map[string][]User {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.usersLocked()
}
