package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Set by the linker: -X github.com/add2tkectl/add2tkectl/pkg/cli.version=...
var (
	version = "dev"
	commit  = "unknown"
)

// VersionInfo is what version reports.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func newVersionCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := VersionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if g.Output != "text" {
				return writeResult(g, v)
			}
			_, err := fmt.Fprintf(g.Stdout, "add2tkectl %s (commit %s, %s, %s)\n", v.Version, v.Commit, v.GoVersion, v.Platform)
			return err
		},
	}
}

func newCompletionCommand(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Example: `  add2tkectl completion bash > /etc/bash_completion.d/add2tkectl
  add2tkectl completion zsh > "${fpath[1]}/_add2tkectl"`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(g.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(g.Stdout)
			default:
				return root.GenFishCompletion(g.Stdout, true)
			}
		},
	}
}
