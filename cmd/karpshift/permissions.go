package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/migrate/permissions"
	"github.com/karpshift/karpshift/render"
)

type permissionsOptions struct {
	mode   string
	output string
}

func newPermissionsCommand(g *globalOptions) *cobra.Command {
	o := &permissionsOptions{}
	var modes []string
	for _, m := range permissions.Modes() {
		modes = append(modes, fmt.Sprintf("  %-9s %s", m, m.Description()))
	}
	cmd := &cobra.Command{
		Use:   "permissions [--mode read|migrate|cleanup|bootstrap] [-o yaml|json]",
		Short: "Print the least-privilege IAM policy and Kubernetes ClusterRole of a mode",
		Long: `permissions prints what karpshift needs, and nothing more, for one mode: the AWS IAM
policy (actions derived from the client interfaces the code calls through) and the
Kubernetes ClusterRole (rules checked against every request the code makes). Each mode
includes the ones it builds on:

` + strings.Join(modes, "\n") + `

-o yaml (the default) prints a YAML stream kubectl can apply: the ClusterRole, preceded by
comments holding the IAM policy (as JSON, the form IAM takes) and what each rule is for.
-o json prints one object {"mode", "iamPolicy", "clusterRole"}. Nothing is contacted.`,
		Example: `  karpshift permissions                                   # read-only
  karpshift permissions --mode migrate | kubectl apply -f -
  karpshift permissions --mode migrate -o json | jq .iamPolicy > policy.json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return o.run(g)
		},
	}
	cmd.Flags().StringVar(&o.mode, "mode", string(permissions.Read), "read, migrate, cleanup or bootstrap")
	cmd.Flags().StringVarP(&o.output, "output", "o", "yaml", "output: yaml or json")
	return cmd
}

func (o *permissionsOptions) run(g *globalOptions) error {
	m, err := permissions.ParseMode(o.mode)
	if err != nil {
		return usageError("--mode: %v", err)
	}
	var out []byte
	switch strings.ToLower(o.output) {
	case "yaml", "yml":
		out, err = render.PermissionsYAML(permissions.For(m))
	case "json":
		out, err = render.PermissionsJSON(permissions.For(m))
	default:
		return usageError("--output %q: want yaml or json", o.output)
	}
	if err != nil {
		return err
	}
	_, err = g.streams.Out.Write(out)
	return err
}
