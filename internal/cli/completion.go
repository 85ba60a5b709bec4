package cli

import (
	"context"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyperhq/hyper/internal/client"
)

func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for the shell: hyperctl's commands and flags,
and the names of pods and images from hyperd as you type.

  bash:       source <(hyperctl completion bash)
  zsh:        hyperctl completion zsh > "${fpath[1]}/_hyperctl"
  fish:       hyperctl completion fish | source
  powershell: hyperctl completion powershell | Out-String | Invoke-Expression`,
		Args:      exactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root, out := cmd.Root(), cmd.OutOrStdout()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usageErrorf(cmd, "unknown shell %q: want bash, zsh, fish or powershell", args[0])
		},
	}
}

// Commands whose arguments complete to pod or image names.
var (
	podArgCommands   = []string{"attach", "exec", "logs", "start", "stop", "restart", "kill", "wait", "rm", "inspect", "port", "rename"}
	imageArgCommands = []string{"run", "create", "rmi", "tag", "push", "save"}
)

// addDynamicCompletion completes pod and image names from hyperd (a
// second's wait at most; nothing if hyperd does not answer).
func addDynamicCompletion(h *cli, root *cobra.Command) {
	for _, c := range root.Commands() {
		switch {
		case slices.Contains(podArgCommands, c.Name()):
			c.ValidArgsFunction = h.completeNames(podNames)
		case slices.Contains(imageArgCommands, c.Name()):
			c.ValidArgsFunction = h.completeNames(imageNames)
		}
	}
}

// firstArgOnly: commands whose later arguments are a command (exec, run:
// those with -i) complete names for their first one only.
func firstArgOnly(cmd *cobra.Command, args []string) bool {
	return len(args) == 0 || cmd.Flags().Lookup("interactive") == nil
}

// completeNames completes an argument with the names list gives.
func (h *cli) completeNames(list func(context.Context, *client.Client) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if !firstArgOnly(cmd, args) {
			return nil, cobra.ShellCompDirectiveDefault
		}
		c, err := h.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		names, err := list(ctx, c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// podNames are the named pods' names.
func podNames(ctx context.Context, c *client.Client) ([]string, error) {
	pods, err := c.ListPods(ctx, true)
	var names []string
	for _, p := range pods {
		if p.Name != "" {
			names = append(names, p.Name)
		}
	}
	return names, err
}

// imageNames are the images' names, as docker shows them.
func imageNames(ctx context.Context, c *client.Client) ([]string, error) {
	imgs, err := c.ListImages(ctx)
	var names []string
	for _, im := range imgs {
		for _, n := range im.Names {
			names = append(names, familiarName(n))
		}
	}
	return names, err
}
