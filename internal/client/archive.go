package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/hyperhq/hyper/internal/api/types"
)

func archiveQuery(container, path string) url.Values {
	q := url.Values{"path": {path}}
	if container != "" {
		q.Set("container", container)
	}
	return q
}

func decodePathStat(resp *http.Response) (types.PathStat, error) {
	var st types.PathStat
	b, err := base64.StdEncoding.DecodeString(resp.Header.Get(types.PathStatHeader))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return st, fmt.Errorf("decoding %s: %w", types.PathStatHeader, err)
	}
	return st, nil
}

// StatPath stats a path of a running pod's container.
func (c *Client) StatPath(ctx context.Context, pod, container, path string) (types.PathStat, error) {
	resp, err := c.do(ctx, http.MethodHead, "/"+types.APIVersion+"/pods/"+url.PathEscape(pod)+"/archive", archiveQuery(container, path), nil, "")
	if err != nil {
		return types.PathStat{}, err
	}
	resp.Body.Close()
	return decodePathStat(resp)
}

// GetArchive returns a tar archive of path and its stat; the caller
// closes the archive.
func (c *Client) GetArchive(ctx context.Context, pod, container, path string, follow bool) (io.ReadCloser, types.PathStat, error) {
	q := archiveQuery(container, path)
	if follow {
		q.Set("follow", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, "/"+types.APIVersion+"/pods/"+url.PathEscape(pod)+"/archive", q, nil, "")
	if err != nil {
		return nil, types.PathStat{}, err
	}
	st, err := decodePathStat(resp)
	if err != nil {
		resp.Body.Close()
		return nil, st, err
	}
	return resp.Body, st, nil
}

// PutArchive extracts the tar archive r into directory path.
func (c *Client) PutArchive(ctx context.Context, pod, container, path string, o types.ArchiveOptions, r io.Reader) error {
	q := archiveQuery(container, path)
	if o.CopyUIDGID {
		q.Set("copyUIDGID", "1")
	}
	if o.NoOverwriteDirNonDir {
		q.Set("noOverwriteDirNonDir", "1")
	}
	resp, err := c.do(ctx, http.MethodPut, "/"+types.APIVersion+"/pods/"+url.PathEscape(pod)+"/archive", q, r, "application/x-tar")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Changes lists a container's writable layer against its image.
func (c *Client) Changes(ctx context.Context, pod, container string) ([]types.Change, error) {
	var q url.Values
	if container != "" {
		q = url.Values{"container": {container}}
	}
	var out []types.Change
	err := c.call(ctx, http.MethodGet, "/"+types.APIVersion+"/pods/"+url.PathEscape(pod)+"/changes", q, nil, &out)
	return out, err
}

// ImportImage makes the tarball r a one-layer image named repo (docker
// import), with Dockerfile-like config changes ("CMD ...", "ENV K=V").
func (c *Client) ImportImage(ctx context.Context, r io.Reader, repo, message string, changes []string) ([]types.Image, error) {
	q := url.Values{"repo": {repo}}
	if message != "" {
		q.Set("message", message)
	}
	for _, ch := range changes {
		q.Add("changes", ch)
	}
	resp, err := c.do(ctx, http.MethodPost, "/"+types.APIVersion+"/images/import", q, r, "application/x-tar")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out []types.Image
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding import answer: %w", err)
	}
	return out, nil
}

// Commit makes a running pod's container's changes a new image.
func (c *Client) Commit(ctx context.Context, pod, container string, o types.CommitOptions) ([]types.Image, error) {
	q := url.Values{"repo": {o.Repo}, "changes": o.Changes}
	for k, v := range map[string]string{"container": container, "author": o.Author, "comment": o.Comment} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out []types.Image
	err := c.call(ctx, http.MethodPost, "/"+types.APIVersion+"/pods/"+url.PathEscape(pod)+"/commit", q, nil, &out)
	return out, err
}
