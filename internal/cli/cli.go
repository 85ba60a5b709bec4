// Package cli is hyperctl, Hyper's docker-like command line: one cobra
// command per file group, all talking to hyperd through internal/client.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/api"
	"github.com/hyperhq/hyper/internal/client"
)

// Version is hyperctl's version; the build may set it with
// -ldflags "-X github.com/hyperhq/hyper/internal/cli.Version=...".
var Version = ""

func clientVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// DefaultHost is where hyperctl finds hyperd unless -H or HYPER_HOST say
// otherwise.
const DefaultHost = "unix://" + api.DefaultSocket

// Exit statuses of hyperctl's own failures (docker's).
const (
	// ExitError: a command failed.
	ExitError = 1
	// ExitDaemonError: run/exec/attach/start -a could not do their job
	// (hyperctl or hyperd failed, not the process).
	ExitDaemonError = 125
	// ExitCannotInvoke: the exec'd command could not be run.
	ExitCannotInvoke = 126
)

// Streams are hyperctl's standard streams.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StatusError ends hyperctl with Code, printing Message (if any) first.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Message
}

// usageErrorf is a command-line mistake: status 125, like docker.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &StatusError{Code: ExitDaemonError, Message: fmt.Sprintf(format, args...) + "\nSee '" + cmd.CommandPath() + " --help'."}
}

// withStatus gives err the exit status code unless it has one.
func withStatus(code int, err error) error {
	if err == nil {
		return nil
	}
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	return &StatusError{Code: code, Message: err.Error()}
}

// cli is the state the commands share.
type cli struct {
	streams Streams
	conn    connection
	debug   bool
	log     *slog.Logger
	c       *client.Client
}

// client connects to the host from -H / HYPER_HOST, with the TLS flags.
func (h *cli) client() (*client.Client, error) {
	if h.c != nil {
		return h.c, nil
	}
	c, err := h.conn.dial()
	if err != nil {
		return nil, err
	}
	h.c = c
	if h.debug {
		h.c.SetLogger(h.log)
	}
	return h.c, nil
}

// formatClient parses --format and connects to hyperd: how the commands
// that print with --format begin.
func (h *cli) formatClient(cmd *cobra.Command, format string) (*formatter, *client.Client, error) {
	f, err := newFormatter(format)
	if err != nil {
		return nil, nil, usageErrorf(cmd, "%v", err)
	}
	c, err := h.client()
	return f, c, err
}

// Main runs hyperctl on the process's arguments and streams and returns
// its exit status.
func Main() int {
	return Run(context.Background(), os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// Run runs hyperctl with args and returns its exit status.
func Run(ctx context.Context, args []string, s Streams) int {
	h := &cli{streams: s}
	root := newRootCommand(h)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	if h.c != nil {
		h.c.Close()
	}
	if err == nil {
		return 0
	}
	code := ExitError
	var se *StatusError
	if errors.As(err, &se) {
		code = se.Code
	}
	if msg := err.Error(); se == nil || se.Message != "" {
		fmt.Fprintf(s.Err, "hyperctl: %s\n", strings.TrimRight(msg, "\n"))
	}
	return code
}

func newRootCommand(h *cli) *cobra.Command {
	root := &cobra.Command{
		Use:           "hyperctl",
		Short:         "Run docker images in light virtual machines",
		Long:          "hyperctl drives hyperd: it runs docker images as pods, each in its own light VM.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       clientVersion(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelWarn
			if h.debug {
				level = slog.LevelDebug
			}
			h.log = slog.New(slog.NewTextHandler(h.streams.Err, &slog.HandlerOptions{Level: level}))
			return nil
		},
		// "hyperctl" alone shows help; "hyperctl bogus" is an error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("hyperctl version {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf(cmd, "%v", err)
	})
	pf := root.PersistentFlags()
	h.conn.addFlags(pf)
	pf.BoolVar(&h.debug, "debug", false, "log API calls to stderr")

	root.AddCommand(
		newRunCommand(h),
		newCreateCommand(h),
		newStartCommand(h),
		newAttachCommand(h),
		newExecCommand(h),
		newPsCommand(h),
		newLogsCommand(h),
		newStopCommand(h),
		newRestartCommand(h),
		newKillCommand(h),
		newWaitCommand(h),
		newRenameCommand(h),
		newStatsCommand(h),
		newPauseCommand(h), newUnpauseCommand(h), newUpdateCommand(h),
		newTopCommand(h),
		newRmCommand(h),
		newInspectCommand(h),
		newPortCommand(h),
		newCpCommand(h), newDiffCommand(h), newExportCommand(h), newImportCommand(h), newCommitCommand(h),
		newImagesCommand(h),
		newRmiCommand(h),
		newVolumeCommand(h),
		newTagCommand(h), newPushCommand(h), newImageCommand(h), newSystemCommand(h),
		newLoadCommand(h),
		newPullCommand(h),
		newLoginCommand(h),
		newLogoutCommand(h),
		newSaveCommand(h),
		newInfoCommand(h),
		newVersionCommand(h),
		newEventsCommand(h),
		newCompletionCommand(),
	)
	addDynamicCompletion(h, root)
	root.DisableFlagsInUseLine = true
	for _, c := range root.Commands() {
		c.DisableFlagsInUseLine = true
	}
	return root
}

// Argument checks that fail with docker's usage status.

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf(cmd, "%q requires exactly %d argument%s", cmd.CommandPath(), n, plural(n))
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf(cmd, "%q requires at least %d argument%s", cmd.CommandPath(), n, plural(n))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "%q accepts no arguments", cmd.CommandPath())
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// forEach runs fn for every argument, printing each failure, and fails
// (status 1) if any did, as docker's multi-argument commands do. Each
// success prints its argument.
func (h *cli) forEach(args []string, fn func(arg string) error) error {
	return h.forEachResult(args, func(a string) (string, error) { return a, fn(a) })
}

// forEachResult is forEach printing what fn returns for each success.
func (h *cli) forEachResult(args []string, fn func(arg string) (string, error)) error {
	failed := 0
	for _, a := range args {
		out, err := fn(a)
		if err != nil {
			fmt.Fprintf(h.streams.Err, "hyperctl: %v\n", err)
			failed++
			continue
		}
		fmt.Fprintln(h.streams.Out, out)
	}
	if failed > 0 {
		return &StatusError{Code: ExitError}
	}
	return nil
}
