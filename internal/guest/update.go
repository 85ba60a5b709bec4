package guest

import (
	"context"

	"github.com/hyperhq/hyper/internal/protocol"
)

// UpdateContainer sets limits of a container's cgroup in the guest.
func (c *Client) UpdateContainer(ctx context.Context, container string, r protocol.Resources) error {
	return c.call(ctx, protocol.MethodUpdateContainer, protocol.UpdateRequest{Container: container, Resources: r}, nil)
}
