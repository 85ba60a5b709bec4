package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hyperhq/hyper/internal/errdefs"
	"github.com/hyperhq/hyper/internal/hypervisor"
)

// Files of a template directory. The guest's RAM is a file: the template
// VM maps it shared and writes it; VMs restored from it map it private
// (copy on write), so they fault in only the pages they touch and share
// them through the page cache. The migration stream ("state") then holds
// the device state only (x-ignore-shared skips shared RAM blocks).
const (
	templateMemory = "memory"
	templateState  = "state"
)

// ramBackend is the id of the memory backend of a file-backed VM.
const ramBackend = "ram0"

// saveTimeout bounds building a template when the caller sets no deadline.
const saveTimeout = 2 * time.Minute

// SaveTemplate implements hypervisor.Templater.
func (d *Driver) SaveTemplate(ctx context.Context, spec hypervisor.Spec, dir string) error {
	if err := d.templates(); err != nil {
		return fmt.Errorf("template %s: %w", spec.ID, err)
	}
	if len(spec.Channels) == 0 {
		return errdefs.InvalidArgument("template %s: needs a channel to know when the guest is ready", spec.ID)
	}
	memory := filepath.Join(dir, templateMemory)
	line, err := buildArgs(spec, d.opts)
	if err == nil {
		err = withMemoryFile(line, spec.MemoryMB, memory, true)
	}
	if err == nil {
		err = d.createMemoryFile(memory)
	}
	if err != nil {
		return fmt.Errorf("template %s: %w", spec.ID, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, saveTimeout)
		defer cancel()
	}
	// Paused at start: QMP is connected before the guest can open its port.
	line.add("-S")
	v := d.newVM(spec, line)
	v.memoryFile = memory
	if err := v.Start(ctx); err != nil {
		return err
	}
	defer func() { v.Kill(); <-v.done }()
	if err := v.save(ctx, filepath.Join(dir, templateState)); err != nil {
		return fmt.Errorf("saving template %s: %w%s", spec.ID, err, v.exited())
	}
	return nil
}

func (v *vm) save(ctx context.Context, path string) error {
	q, err := v.dialQMPWhenUp(ctx)
	if err != nil {
		return err
	}
	defer q.close()
	// A cancelled ctx ends a blocked read at once.
	defer context.AfterFunc(ctx, func() { q.conn.SetDeadline(time.Unix(1, 0)) })()
	if err := q.execute(ctx, "cont", nil); err != nil {
		return err
	}
	const port = "port0" // the first channel's port (args.go)
	if err := q.waitEvent(ctx, "VSERPORT_CHANGE", func(data json.RawMessage) bool {
		var e struct {
			ID   string `json:"id"`
			Open bool   `json:"open"`
		}
		return json.Unmarshal(data, &e) == nil && e.ID == port && e.Open
	}); err != nil {
		return fmt.Errorf("waiting for the guest to open its channel: %w", err)
	}
	if err := q.execute(ctx, "stop", nil); err != nil {
		return err
	}
	if err := setIgnoreShared(ctx, q); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// QEMU 7.2 has no file: URI, and an outgoing fd: URI takes only a
	// descriptor passed over QMP.
	if err := q.sendFD(ctx, "tmpl", f); err != nil {
		return err
	}
	if err := q.execute(ctx, "migrate", map[string]any{"uri": "fd:tmpl"}); err != nil {
		return err
	}
	if err := waitMigration(ctx, q); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	q.execute(ctx, "quit", nil) // the connection drops as QEMU quits
	select {
	case <-v.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Restore implements hypervisor.Templater.
func (d *Driver) Restore(ctx context.Context, spec hypervisor.Spec, dir string) (hypervisor.VM, error) {
	if err := d.templates(); err != nil {
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	memory := filepath.Join(dir, templateMemory)
	line, err := buildArgs(spec, d.opts)
	if err == nil {
		err = withMemoryFile(line, spec.MemoryMB, memory, false)
	}
	if j := d.opts.Jail; err == nil && j != nil {
		// A template saved while the jail was off is root's.
		err = os.Chown(memory, j.User.UID, j.User.GID)
	}
	if err != nil {
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	line.add("-incoming", "defer")
	v := d.newVM(spec, line)
	v.restoreFrom = filepath.Join(dir, templateState)
	v.memoryFile = memory
	return v, nil
}

// templates refuses templates where the driver has none: they are built
// and tested with the serial transport only.
func (d *Driver) templates() error {
	if d.opts.Transport == TransportVsock {
		return fmt.Errorf("%w: the guest channel is vsock", hypervisor.ErrNoTemplate)
	}
	return nil
}

// incomingFD is the descriptor a restored QEMU reads its state from
// (cmd.ExtraFiles[0]).
const incomingFD = 3

// resume loads the template's state into a QEMU started with -incoming
// defer and runs the guest.
func (v *vm) resume(ctx context.Context) error {
	q, err := v.dialQMPWhenUp(ctx)
	if err != nil {
		return err
	}
	defer q.close()
	if err := setIgnoreShared(ctx, q); err != nil {
		return err
	}
	if err := q.execute(ctx, "migrate-incoming", map[string]any{"uri": fmt.Sprintf("fd:%d", incomingFD)}); err != nil {
		return err
	}
	if err := waitMigration(ctx, q); err != nil {
		return err
	}
	// The template was saved paused, so the VM stays paused.
	return q.execute(ctx, "cont", nil)
}

// withMemoryFile backs the guest's RAM with the file at path. QEMU opens
// it itself (7.2 takes no descriptor for it), so a jail binds it in.
func withMemoryFile(c *cmdline, memoryMB int, path string, share bool) error {
	if err := checkOpt(path); err != nil {
		return err
	}
	for i := range c.args[:len(c.args)-1] {
		if c.args[i] == "-M" {
			c.args[i+1] += ",memory-backend=" + ramBackend
		}
	}
	sh := "off"
	if share {
		sh = "on"
	}
	c.add("-object", fmt.Sprintf("memory-backend-file,id=%s,size=%dM,mem-path=%s,share=%s", ramBackend, memoryMB, path, sh))
	return nil
}

// createMemoryFile creates a template's memory file for QEMU to fill: a
// jailed QEMU, which may not create files in the template's directory,
// owns it (QEMU 7.2 maps it from a read-write open even when private;
// the directory keeps everyone else out).
func (d *Driver) createMemoryFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if j := d.opts.Jail; j != nil {
		return f.Chown(j.User.UID, j.User.GID)
	}
	return nil
}

func setIgnoreShared(ctx context.Context, q *qmp) error {
	return q.execute(ctx, "migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}}})
}

// waitMigration waits until the migration (either side) has completed.
func waitMigration(ctx context.Context, q *qmp) error {
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		var st struct {
			Status string `json:"status"`
			Error  string `json:"error-desc"`
		}
		if err := q.query(ctx, "query-migrate", nil, &st); err != nil {
			return err
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("migration %s: %s", st.Status, st.Error)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migration %s: %w", st.Status, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// dialQMPWhenUp connects QMP as soon as QEMU has created its socket.
func (v *vm) dialQMPWhenUp(ctx context.Context) (*qmp, error) {
	path := filepath.Join(v.spec.StateDir, qmpSocket)
	return whileRunning(ctx, v, "qmp", func() (*qmp, error) { return dialQMP(ctx, path) })
}

// exited says how QEMU ended, if it has.
func (v *vm) exited() string {
	select {
	case <-v.done:
		v.mu.Lock()
		defer v.mu.Unlock()
		return " (" + v.exit.Reason + ")"
	default:
		return ""
	}
}

// waitEvent reads messages until an event called name whose data match
// accepts arrives, or ctx's deadline passes.
func (q *qmp) waitEvent(ctx context.Context, name string, match func(json.RawMessage) bool) error {
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
	}
	for {
		var msg struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := q.readMsg(&msg); err != nil {
			return fmt.Errorf("qmp: waiting for %s: %w", name, err)
		}
		if msg.Event == name && match(msg.Data) {
			return nil
		}
	}
}

// sendFD passes f to QEMU under name (QMP getfd with SCM_RIGHTS).
func (q *qmp) sendFD(ctx context.Context, name string, f *os.File) error {
	if strings.ContainsAny(name, "\"\\") {
		return errdefs.InvalidArgument("bad fd name %q", name)
	}
	_, err := q.callWithFD(ctx, "getfd", map[string]any{"fdname": name}, f)
	return err
}

// callWithFD runs cmd with f attached (SCM_RIGHTS) and returns its value.
func (q *qmp) callWithFD(ctx context.Context, cmd string, args any, f *os.File) (json.RawMessage, error) {
	uc, ok := q.conn.(*net.UnixConn)
	if !ok {
		return nil, errors.New("qmp: passing a descriptor needs a unix socket")
	}
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
	}
	req, err := json.Marshal(map[string]any{"execute": cmd, "arguments": args})
	if err != nil {
		return nil, err
	}
	if _, _, err := uc.WriteMsgUnix(append(req, '\n'), unix.UnixRights(int(f.Fd())), nil); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	return q.reply(cmd)
}
