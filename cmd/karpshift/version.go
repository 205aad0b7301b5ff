package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// toolVersion returns the build's version: the ldflags value, else the module version
// from the build info, else "devel".
func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print karpshift's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := map[string]string{
				"version":    toolVersion(),
				"go":         runtime.Version(),
				"platform":   runtime.GOOS + "/" + runtime.GOARCH,
				"apiVersion": "karpshift.dev/v1alpha1",
			}
			switch output {
			case "json":
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(g.streams.Out, string(b))
			case "", "text":
				fmt.Fprintf(g.streams.Out, "karpshift %s (%s, %s)\n", info["version"], info["go"], info["platform"])
			default:
				return usageError("-o %q: want text or json", output)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
