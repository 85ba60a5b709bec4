package image

// Lock order in this package, outermost first; a lock is only ever taken
// while holding those before it:
//
//	the caller's locks (hyperd's daemon and pod locks)
//	→ holds.mu (holds.go)
//	→ pinSet.mu (gc.go)
//	→ rootfsStore.mu (rootfs.go)
//
// No mutex of the package is held across a bbolt transaction or disk
// I/O: each guards memory only, and a method takes it, reads or changes
// that memory, releases it, then acts. Where a decision must stay true
// while the I/O that follows it runs, the memory says so:
//
//   - Remove and Prune decide under holds.mu and mark the images they
//     will delete as removing (Hold refuses them) before their write
//     transaction; Hold records its images under holds.mu (they count as
//     held from then on) before its read transaction checks that they
//     exist (catalog.go);
//   - GC decides under pinSet.mu and marks the files it will delete
//     (pin waits for them) before it deletes them; what is unpinned while
//     it reads the registered images is spared (gc.go);
//   - a root file system being built is in rootfsStore.builds, and
//     ensure looks at the file and the record without rootfsStore.mu
//     (rootfs.go).
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
// SetHolds, Release); Remove and Prune decide with them under mu, mark
// the images they will delete as removing, and delete them after mu is
// released (catalog.go).
type holds struct {
	mu sync.Mutex
	by map[string]holding
	// removing counts, per image ID, the removals and prunes that decided
	// to delete the image and have not finished: Hold refuses the image
	// meanwhile.
	removing map[string]int
	gen      uint64 // the last holding.gen given
}

type holding struct {
	user User
	ids  map[string]bool
	// pending are the images Hold has recorded for this holder and is
	// checking the existence of, with how many Holds are: they count as
	// held until the check ends.
	pending map[string]int
	// gen tells this holding from a later one of the same holder (after
	// set or release), for a Hold that ends after the holding changed.
	gen uint64
}

// newHoldingLocked starts a holding for u.
func (h *holds) newHoldingLocked(u User) holding {
	h.gen++
	return holding{user: u, ids: map[string]bool{}, pending: map[string]int{}, gen: h.gen}
}

// set makes holder, as user u, hold exactly ids (none: nothing).
func (h *holds) set(holder string, u User, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.by, holder)
	if len(ids) > 0 {
		hd := h.newHoldingLocked(u)
		for _, id := range ids {
			hd.ids[id] = true
		}
		if h.by == nil {
			h.by = map[string]holding{}
		}
		h.by[holder] = hd
	}
}

// release drops what holder holds.
func (h *holds) release(holder string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.by, holder)
}

// pendingHold is a Hold between recording its images (beginLocked) and
// the end of its check (end).
type pendingHold struct {
	holder  string
	ids     []string
	gen     uint64 // the holding's
	existed bool   // whether the holder held anything before
	prev    User   // the holder's user before, if it existed
	user    User
}

// beginLocked records ids as pending for holder, as user u: they count as
// held from now on.
func (h *holds) beginLocked(holder string, u User, ids []string) pendingHold {
	if h.by == nil {
		h.by = map[string]holding{}
	}
	hd, existed := h.by[holder]
	if !existed {
		hd = h.newHoldingLocked(u)
	}
	p := pendingHold{holder: holder, ids: ids, gen: hd.gen, existed: existed, prev: hd.user, user: u}
	hd.user = u
	for _, id := range ids {
		hd.pending[id]++
	}
	h.by[holder] = hd
	return p
}

// end ends p: on success its images become held, on failure they are
// dropped (only those: what the holder held before stays) and the holder
// is as it was. A holding set or released meanwhile is left as it is now.
func (h *holds) end(p pendingHold, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hd, found := h.by[p.holder]
	if !found || hd.gen != p.gen {
		return
	}
	for _, id := range p.ids {
		if hd.pending[id]--; hd.pending[id] <= 0 {
			delete(hd.pending, id)
		}
		if ok {
			hd.ids[id] = true
		}
	}
	if !ok {
		if !p.existed && len(hd.ids) == 0 && len(hd.pending) == 0 {
			delete(h.by, p.holder)
			return
		}
		if p.existed && hd.user == p.user {
			hd.user = p.prev
		}
	}
	h.by[p.holder] = hd
}

// removingLocked returns the first of ids being removed, if any.
func (h *holds) removingLocked(ids []string) (string, bool) {
	for _, id := range ids {
		if h.removing[id] > 0 {
			return id, true
		}
	}
	return "", false
}

// markLocked marks ids as being removed, until unmark.
func (h *holds) markLocked(ids ...string) {
	if h.removing == nil {
		h.removing = map[string]int{}
	}
	for _, id := range ids {
		h.removing[id]++
	}
}

// unmark ends a removal of ids marked by markLocked.
func (h *holds) unmark(ids ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if h.removing[id]--; h.removing[id] <= 0 {
			delete(h.removing, id)
		}
	}
}

// usersLocked returns the users of each held image (held, or pending a
// Hold's check), by name (then holder, for holders of the same name).
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
		for id := range hd.pending {
			if !hd.ids[id] {
				out[id] = append(out[id], hd.user)
			}
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
