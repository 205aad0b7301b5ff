package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/render"
)

type inventoryOptions struct {
	source sourceOptions
	save   string
	output string
}

func newInventoryCommand(g *globalOptions) *cobra.Command {
	o := &inventoryOptions{}
	cmd := &cobra.Command{
		Use:   "inventory --cluster NAME [--save FILE] [-o table|yaml|json]",
		Short: "Read node groups, ASGs, Cluster Autoscaler and workloads into a snapshot (read-only)",
		Long: `inventory reads, without changing anything, the EKS cluster's managed node groups,
self-managed Auto Scaling groups in Cluster Autoscaler's scope, their launch templates,
subnets and instance types, Fargate profiles, the cluster-autoscaler Deployment's flags
and priority-expander ConfigMap, nodes, pods, PDBs, DaemonSets, PVs, Karpenter and
aws-node-termination-handler. --save writes the versioned snapshot that every other
command accepts as --snapshot FILE.`,
		Example: `  karpshift inventory --cluster prod --region eu-west-1
  karpshift inventory --cluster prod --save prod.snapshot.yaml -o yaml
  karpshift inventory --snapshot prod.snapshot.yaml   # review a saved snapshot offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, g)
		},
	}
	o.source.addFlags(cmd)
	cmd.Flags().StringVar(&o.save, "save", "", "write the snapshot to this file (.json for JSON, else YAML)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output: table, yaml or json")
	return cmd
}

func (o *inventoryOptions) validate() error {
	switch o.output {
	case "table", "yaml", "json":
		return nil
	}
	return usageError("-o %q: want table, yaml or json", o.output)
}

func (o *inventoryOptions) run(cmd *cobra.Command, g *globalOptions) error {
	s, err := o.source.load(cmd.Context(), g)
	if err != nil {
		return err
	}
	if o.save != "" {
		if err := snapshot.Save(o.save, s); err != nil {
			return fmt.Errorf("saving snapshot: %w", err)
		}
		g.logger.Info("snapshot saved", "file", o.save)
	}
	var out []byte
	switch o.output {
	case "table":
		out = render.InventoryTable(s)
	case "yaml":
		out, err = snapshot.Marshal(s, snapshot.FormatYAML)
	case "json":
		out, err = snapshot.Marshal(s, snapshot.FormatJSON)
	}
	if err != nil {
		return err
	}
	_, err = g.streams.Out.Write(out)
	return err
}
