package guest

import "time"

// Observer is told of each RPC a Client made: its method, how long it
// took and its error (nil on success). It must not block. hyperd's
// metrics count and time the RPCs through it.
type Observer func(method string, took time.Duration, err error)

// Observe sets the client's observer; call it before the client's first
// RPC (it is not synchronized with them).
func (c *Client) Observe(o Observer) { c.observe = o }
