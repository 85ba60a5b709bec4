// Package cleanup undoes half-done setup: register an undo function after
// each step succeeds, and either Release the lot when everything worked or
// let Clean run them in reverse order.
package cleanup

// Cleanup is a stack of undo functions. The zero value is ready to use.
type Cleanup struct{ fns []func() }

// Add registers f to run on Clean.
func (c *Cleanup) Add(f func()) { c.fns = append(c.fns, f) }

// Clean runs the registered functions in reverse order, once.
func (c *Cleanup) Clean() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}

// Release forgets the registered functions: setup succeeded.
func (c *Cleanup) Release() { c.fns = nil }
