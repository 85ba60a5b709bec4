package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api/stdcopy"
	"github.com/hyperhq/hyper/internal/api/types"
	"github.com/hyperhq/hyper/internal/client"
)

type execOptions struct {
	interactive bool
	tty         bool
	env         []string
	envFiles    []string
	workdir     string
	user        string
	container   string
	vm          bool
	privileged  bool
}

func newExecCommand(h *cli) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] POD|CONTAINER|POD/CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running pod",
		Long: `Run a command in a running pod's container, or with --vm in the pod's VM
itself: outside every container, as root, in the VM's own root filesystem,
which holds hyperstart and busybox (sh, ls, ps, cat, mount, ip, ...).

hyperctl exits with the command's exit status: 126 if it could not be run,
125 if hyperctl or hyperd failed. Flags after POD belong to the command.

` + refHelp,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStatus(ExitDaemonError, h.exec(cmd.Context(), o, args[0], args[1:]))
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep stdin open and forward it")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a terminal")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass hyperctl's)")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "read environment variables from a file")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "user (name|uid[:group|gid])")
	f.StringVarP(&o.container, "container", "c", "", "container of the pod (default: the first)")
	f.BoolVar(&o.vm, "vm", false, "run the command in the pod's VM, outside its containers")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to the command: every capability (the container's seccomp filter stays)")
	return cmd
}

func (h *cli) exec(ctx context.Context, o *execOptions, pod string, args []string) error {
	if o.tty && o.interactive && !isTerminal(h.streams.In) {
		return errors.New("the input device is not a TTY; drop -t to pipe input")
	}
	ro := runOptions{env: o.env, envFiles: o.envFiles}
	env, err := ro.environment()
	if err != nil {
		return err
	}
	c, err := h.client()
	if err != nil {
		return err
	}
	created, err := c.CreateExec(ctx, pod, types.ExecSpec{
		Container:  o.container,
		Cmd:        args,
		Env:        env,
		WorkingDir: o.workdir,
		User:       o.user,
		Tty:        o.tty,
		Stdin:      o.interactive,
		VM:         o.vm,
		Privileged: o.privileged,
	})
	if err != nil {
		return err
	}
	for _, w := range created.Warnings {
		fmt.Fprintf(h.streams.Err, "WARNING: %s\n", w)
	}
	id := created.ID

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.StartExec(ctx, id, o.interactive)
	if err != nil {
		return err
	}
	defer stream.Close()

	restore := func() {}
	if o.tty {
		if o.interactive {
			if restore, err = rawTerminal(h.streams.In); err != nil {
				return fmt.Errorf("setting the terminal to raw mode: %w", err)
			}
		}
		resize := func() {
			if hgt, wid, ok := terminalSize(h.streams.Out, h.streams.In); ok {
				if err := c.ResizeExec(ctx, id, hgt, wid); err != nil {
					h.log.Debug("resize", "err", err)
				}
			}
		}
		resize()
		stop := notify(syscall.SIGWINCH, resize)
		defer stop()
	}
	defer func() { restore() }()

	if o.interactive {
		go copyStdin(h, stream, h.streams.In)
	}
	copyErr := stream.Copy(h.streams.Out, h.streams.Err)
	restore()
	restore = func() {}
	var sysErr *stdcopy.SystemError
	if copyErr != nil && !errors.As(copyErr, &sysErr) {
		return fmt.Errorf("reading output: %w", copyErr)
	}
	if sysErr != nil {
		fmt.Fprintf(h.streams.Err, "hyperctl: %s\n", sysErr.Message)
	}
	info, err := execResult(ctx, c, id)
	if err != nil {
		return err
	}
	if sysErr != nil && info.ExitCode == 0 {
		return &StatusError{Code: ExitCannotInvoke}
	}
	return exitStatus(info.ExitCode)
}

// execResult is the exec's final state; it may take a moment to be
// recorded after the output ended.
func execResult(ctx context.Context, c *client.Client, id string) (types.ExecInfo, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := c.InspectExec(ctx, id)
		if err != nil || !info.Running || time.Now().After(deadline) {
			return info, err
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// copyStdin forwards in until EOF, then half-closes the stream.
func copyStdin(h *cli, stream *client.Stream, in io.Reader) {
	if _, err := io.Copy(stream, in); err != nil && !errors.Is(err, os.ErrClosed) {
		h.log.Debug("stdin", "err", err)
	}
	_ = stream.CloseWrite()
}
