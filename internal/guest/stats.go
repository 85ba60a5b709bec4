package guest

import (
	"context"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/protocol"
)

// Stats reads the cgroup figures of containers (nil: all of them) and the
// VM's network and memory figures. A result out of protocol's bounds is
// refused: the guest is untrusted.
func (c *Client) Stats(ctx context.Context, containers []string) (protocol.StatsResult, error) {
	var res protocol.StatsResult
	if err := c.call(ctx, protocol.MethodStats, protocol.StatsRequest{Containers: containers}, &res); err != nil {
		return res, err
	}
	if err := res.Check(containers); err != nil {
		return protocol.StatsResult{}, errdefs.Unavailable("%s: bad reply: %w", protocol.MethodStats, err)
	}
	return res, nil
}

// Top lists the processes of a container. A result out of protocol's
// bounds is refused.
func (c *Client) Top(ctx context.Context, container string) (protocol.TopResult, error) {
	var res protocol.TopResult
	if err := c.call(ctx, protocol.MethodTop, protocol.ContainerRef{Container: container}, &res); err != nil {
		return res, err
	}
	if err := res.Check(); err != nil {
		return protocol.TopResult{}, errdefs.Unavailable("%s: bad reply: %w", protocol.MethodTop, err)
	}
	return res, nil
}
