package agent

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/hyperstart/archive"
	"github.com/hyperhq/hyper/internal/hyperstart/errs"
	"github.com/hyperhq/hyper/internal/hyperstart/inroot"
	"github.com/hyperhq/hyper/internal/hyperstart/rpc"
	"github.com/hyperhq/hyper/internal/protocol"
)

// RegisterArchive registers the archive streams and their RPCs on m.
func (a *Agent) RegisterArchive(m *rpc.Mux) {
	m.HandleStream(protocol.MethodArchiveGet, a.ArchiveGet)
	m.HandleStream(protocol.MethodArchivePut, a.ArchivePut)
	m.Handle(protocol.MethodStatPath, rpc.Method(a.StatPath))
	m.Handle(protocol.MethodChanges, rpc.Method(a.Changes))
}

// archiveTimeout bounds a reply write on an archive stream.
const archiveTimeout = 30 * time.Second

// containerFiles returns the root filesystem of a created container.
func (a *Agent) containerFiles(id string) (*container, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := a.lookup(id)
	if err != nil {
		return nil, err
	}
	if c.state == stateRemoving {
		return nil, errs.Conflict("container %s is being removed", id)
	}
	return c, nil
}

// archiveSource is what a get or stat of req reads: an O_PATH parent
// descriptor, the entry's name in it, and the PathStat naming the
// archive's entries.
func (a *Agent) archiveSource(req protocol.ArchiveRequest) (*inroot.Root, int, string, protocol.PathStat, error) {
	var ps protocol.PathStat
	if !path.IsAbs(req.Path) || strings.IndexByte(req.Path, 0) >= 0 || len(req.Path) > protocol.MaxArchiveName {
		return nil, -1, "", ps, errs.Invalid("path %q: want an absolute path", req.Path)
	}
	c, err := a.containerFiles(req.Container)
	if err != nil {
		return nil, -1, "", ps, err
	}
	root, err := inroot.Open(c.rootfs)
	if err != nil {
		return nil, -1, "", ps, errs.Internal("%w", err)
	}
	p := path.Clean(req.Path)
	if req.FollowLink {
		var fd int
		if fd, err = root.OpenFd(p, unix.O_PATH); err == nil {
			// The link's target, resolved in the root, read through
			// /proc: the kernel's own path of the descriptor.
			target, lerr := readlinkProc(fd)
			unix.Close(fd)
			if lerr == nil && strings.HasPrefix(target+"/", c.rootfs+"/") {
				p = "/" + strings.TrimPrefix(strings.TrimPrefix(target, c.rootfs), "/")
			}
		}
	}
	if slices.Contains(podFiles, strings.TrimPrefix(p, "/etc/")) && path.Dir(p) == "/etc" && err == nil {
		// Bound over the image's in the container (see pod.go).
		root.Close()
		if root, err = inroot.Open(a.cfg.Paths.pod()); err != nil {
			return nil, -1, "", ps, errs.Internal("%w", err)
		}
		p = "/" + path.Base(p)
	}
	pfd, base := -1, ""
	if err == nil {
		pfd, base, err = root.OpenParent(p)
	}
	if err == nil {
		ps, err = archive.Stat(pfd, base, archiveName(req.Path))
		if err != nil {
			unix.Close(pfd)
		}
	}
	if err != nil {
		root.Close()
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil, -1, "", ps, errs.NotFound("no such file or directory in container %s: %s", req.Container, req.Path)
		}
		return nil, -1, "", ps, errs.Invalid("%s: %w", req.Path, err)
	}
	if strings.HasSuffix(req.Path, "/") && ps.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(pfd)
		root.Close()
		return nil, -1, "", ps, errs.Invalid("%s is not a directory", req.Path)
	}
	return root, pfd, base, ps, nil
}

func readlinkProc(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlink("/proc/self/fd/"+strconv.Itoa(fd), buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// archiveName is the name of a get's top entry: the path's last element,
// "." (contents only) for "/" and for paths ending in "/.".
func archiveName(p string) string {
	if p == "/" || strings.HasSuffix(p, "/.") {
		return "."
	}
	return path.Base(p)
}

// StatPath stats a path of a container.
func (a *Agent) StatPath(_ context.Context, req protocol.ArchiveRequest) (protocol.PathStat, error) {
	root, pfd, _, ps, err := a.archiveSource(req)
	if err != nil {
		return ps, err
	}
	unix.Close(pfd)
	root.Close()
	return ps, nil
}

// ArchiveGet serves a get stream: the stat, the archive, the outcome.
func (a *Agent) ArchiveGet(_ context.Context, conn net.Conn) {
	var req protocol.ArchiveRequest
	if err := protocol.ReadFrame(conn, &req); err != nil {
		slog.Warn("archive get: reading request", "err", err)
		return
	}
	conn.SetReadDeadline(time.Time{})
	var root *inroot.Root
	pfd, base, ps, err := -1, "", protocol.PathStat{}, error(nil)
	if req.Layer {
		pfd, err = a.layerDir(req.Container)
		base, ps = ".", protocol.PathStat{Name: ".", Mode: unix.S_IFDIR | 0o755}
	} else if root, pfd, base, ps, err = a.archiveSource(req); err == nil {
		defer root.Close()
	}
	if err != nil {
		writeReply(conn, nil, err)
		return
	}
	defer unix.Close(pfd)
	if !writeReply(conn, ps, nil) {
		return
	}
	bw := bufio.NewWriterSize(conn, 64<<10)
	tw := tar.NewWriter(bw)
	aw := archive.NewWriter(tw)
	aw.Whiteouts = req.Layer
	err = aw.Add(pfd, base, ps.Name)
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		slog.Warn("archive get", "container", req.Container, "path", req.Path, "err", err)
		err = errs.WithCode(protocol.CodeInternal, err)
	}
	writeReply(conn, protocol.Empty{}, err)
}

// layerDir opens the writable layer (overlay upper directory) of a
// container.
func (a *Agent) layerDir(id string) (int, error) {
	c, err := a.containerFiles(id)
	if err != nil {
		return -1, err
	}
	if c.scratch == "" {
		return -1, errs.Invalid("container %s has a read-only root: no writable layer", id)
	}
	fd, err := unix.Open(filepath.Join(c.scratch, "upper"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, errs.Internal("opening the writable layer of %s: %w", id, err)
	}
	return fd, nil
}

// ArchivePut serves a put stream: the archive is extracted into the
// directory req.Path.
func (a *Agent) ArchivePut(_ context.Context, conn net.Conn) {
	var req protocol.ArchiveRequest
	if err := protocol.ReadFrame(conn, &req); err != nil {
		slog.Warn("archive put: reading request", "err", err)
		return
	}
	conn.SetReadDeadline(time.Time{})
	c, err := a.containerFiles(req.Container)
	if err == nil && (!path.IsAbs(req.Path) || strings.IndexByte(req.Path, 0) >= 0 || len(req.Path) > protocol.MaxArchiveName) {
		err = errs.Invalid("path %q: want an absolute path", req.Path)
	}
	var root *inroot.Root
	if err == nil {
		if root, err = inroot.Open(c.rootfs); err != nil {
			err = errs.Internal("%w", err)
		}
	}
	if err == nil && readOnly(c.rootfs) {
		root.Close()
		err = errs.Conflict("the root filesystem of container %s is read-only", req.Container)
	}
	if !writeReply(conn, protocol.Empty{}, err) || err != nil {
		return
	}
	defer root.Close()
	err = archive.Extract(root, req.Path, bufio.NewReaderSize(conn, 64<<10),
		archive.Options{CopyUIDGID: req.CopyUIDGID, NoOverwriteDirNonDir: req.NoOverwriteDirNonDir})
	if errors.Is(err, unix.EROFS) {
		err = errs.Conflict("the root filesystem of container %s is read-only", req.Container)
	} else if errors.Is(err, unix.ENOSPC) {
		err = errs.Unavailable("no space left on container %s's writable layer", req.Container)
	}
	writeReply(conn, protocol.Empty{}, err)
}

func readOnly(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// writeReply writes a Response frame; it tells whether that worked.
func writeReply(conn net.Conn, result any, err error) bool {
	resp := protocol.Response{Error: errs.ToProtocol(err)}
	if err == nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			resp.Error = errs.ToProtocol(errs.Internal("encoding result: %w", merr))
		}
		resp.Result = b
	}
	conn.SetWriteDeadline(time.Now().Add(archiveTimeout))
	defer conn.SetWriteDeadline(time.Time{})
	if werr := protocol.WriteFrame(conn, resp); werr != nil {
		slog.Warn("archive stream: writing reply", "err", werr)
		return false
	}
	return true
}
