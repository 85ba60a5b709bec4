package guest

import (
	"fmt"
	"time"
)

// keepAliveInterval is how often an idle guest is pinged; an unanswered
// ping (yamux's ConnectionWriteTimeout) ends the session.
const keepAliveInterval = 15 * time.Second

// keepAlive pings the guest every interval until the session ends,
// except while the VM is paused (SetPaused).
func (c *Client) keepAlive(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if c.paused.Load() {
			continue
		}
		if _, err := c.sess.Ping(); err != nil && !c.paused.Load() {
			c.fail(fmt.Errorf("guest keepalive: %w", err))
			return
		}
	}
}

// SetPaused tells the client that the VM is paused (true) or runs again:
// keepalives are suspended meanwhile, as a paused guest cannot answer.
func (c *Client) SetPaused(paused bool) { c.paused.Store(paused) }
