package guest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hyperhq/hyper/internal/protocol"
)

// StatPath stats a path of a container's root filesystem.
func (c *Client) StatPath(ctx context.Context, req protocol.ArchiveRequest) (protocol.PathStat, error) {
	var ps protocol.PathStat
	err := c.call(ctx, protocol.MethodStatPath, req, &ps)
	return ps, err
}

// Changes lists a container's writable layer against its image.
func (c *Client) Changes(ctx context.Context, container string) (protocol.ChangesResult, error) {
	var res protocol.ChangesResult
	err := c.call(ctx, protocol.MethodChanges, protocol.ContainerRef{Container: container}, &res)
	return res, err
}

// ArchiveGet asks for a tar archive of req.Path. started is given the
// path's stat before the archive is read; copy reads the whole archive
// from r (it must stop at the archive's end, as a tar reader does) and
// the guest's outcome is returned after.
func (c *Client) ArchiveGet(ctx context.Context, req protocol.ArchiveRequest, copy func(ps protocol.PathStat, r io.Reader) error) error {
	return c.archive(ctx, protocol.MethodArchiveGet, req, func(s io.ReadWriter, res json.RawMessage) error {
		var ps protocol.PathStat
		if err := json.Unmarshal(res, &ps); err != nil {
			c.fail(fmt.Errorf("protocol violation in archive stat: %v", err))
			return fmt.Errorf("decoding archive stat: %w", err)
		}
		return copy(ps, s)
	})
}

// ArchivePut extracts the archive that copy writes into the directory
// req.Path of a container.
func (c *Client) ArchivePut(ctx context.Context, req protocol.ArchiveRequest, copy func(w io.Writer) error) error {
	return c.archive(ctx, protocol.MethodArchivePut, req, func(s io.ReadWriter, _ json.RawMessage) error {
		return copy(s)
	})
}

// archive runs one archive stream: request, first reply, body, final reply.
func (c *Client) archive(ctx context.Context, method string, req protocol.ArchiveRequest, body func(io.ReadWriter, json.RawMessage) error) error {
	s, stop, err := c.request(ctx, protocol.KindArchive, method, req)
	if err != nil {
		return err
	}
	defer s.Close()
	defer stop()
	reply := func() (json.RawMessage, error) {
		var resp protocol.Response
		if err := protocol.ReadFrame(s, &resp); err != nil {
			return nil, fmt.Errorf("%s: reading reply: %w", method, c.ctxErr(ctx, err))
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %w", method, mapError(resp.Error))
		}
		return resp.Result, nil
	}
	res, err := reply()
	if err != nil {
		return err
	}
	if err := body(s, res); err != nil {
		return fmt.Errorf("%s: %w", method, c.ctxErr(ctx, err))
	}
	_, err = reply()
	return err
}
