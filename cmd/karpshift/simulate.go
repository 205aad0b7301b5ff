package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/render"
)

type simulateOptions struct {
	source  sourceOptions
	planDir string
	prices  string
	output  string
}

func newSimulateCommand(g *globalOptions) *cobra.Command {
	o := &simulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate (--snapshot FILE | --cluster NAME) [--plan DIR] [-o table|yaml|json]",
		Short: "Predict where every pod lands under the planned NodePools and what the fleet costs",
		Long: `simulate runs karpshift's embedded Karpenter-compatible provisioner over the pods of
the groups the plan migrates: pods first fill capacity that stays (kept groups,
existing Karpenter nodes), then new nodes are chosen per NodePool the way Karpenter
does (weights, requirements, taints, topology spread, affinity, volume zones,
DaemonSet overhead, limits, spot before on-demand, the cheapest type that fits).
It prints the predicted nodes, the fleet and cost before and after, and every pod
that would not schedule with the reason.

Prices: the embedded catalog (on-demand list prices, spot estimated) overlaid with
the snapshot's instance types; --prices FILE applies your own prices or discounts.`,
		Example: `  karpshift simulate --snapshot prod.snapshot.yaml
  karpshift simulate --plan ./plan -o json
  karpshift simulate --plan ./plan --prices my-discounts.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch o.output {
			case "table", "yaml", "json":
			default:
				return usageError("-o %q: want table, yaml or json", o.output)
			}
			return o.run(cmd, g)
		},
	}
	o.source.addFlags(cmd)
	cmd.Flags().StringVar(&o.planDir, "plan", "", "a plan directory from 'karpshift plan --out DIR' (default: plan the snapshot with default options)")
	cmd.Flags().StringVar(&o.prices, "prices", "", "a prices file (YAML/JSON: per-type prices and/or discount percentages)")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output: table, yaml or json")
	return cmd
}

func (o *simulateOptions) run(cmd *cobra.Command, g *globalOptions) error {
	s, p, err := loadSnapshotAndPlan(cmd, g, &o.source, o.planDir)
	if err != nil {
		return err
	}
	cat, err := catalogFor(s, o.prices)
	if err != nil {
		return err
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: s, Plan: p, Catalog: cat}, provision.Options{})
	if err != nil {
		return fmt.Errorf("simulating: %w", err)
	}
	var out []byte
	switch o.output {
	case "table":
		out = render.SimulationTable(pred)
	case "json":
		out, err = json.MarshalIndent(pred, "", "  ")
		out = append(out, '\n')
	case "yaml":
		out, err = yaml.Marshal(pred)
	}
	if err != nil {
		return err
	}
	_, err = g.streams.Out.Write(out)
	return err
}

// loadSnapshotAndPlan returns the snapshot and the plan a command works on: the plan
// directory's (its snapshot.yaml unless --snapshot/--cluster is given), or a plan made
// now from the snapshot with default options.
func loadSnapshotAndPlan(cmd *cobra.Command, g *globalOptions, src *sourceOptions, planDir string) (*snapshot.Snapshot, *plan.Plan, error) {
	if planDir != "" {
		p, s, err := plan.LoadDir(planDir)
		if err != nil {
			return nil, nil, withCode(exitUsage, err)
		}
		if src.snapshotPath != "" || g.cluster != "" {
			if s, err = src.load(cmd.Context(), g); err != nil {
				return nil, nil, err
			}
		}
		if s == nil {
			return nil, nil, usageError("%s has no %s: pass --snapshot FILE or --cluster NAME", planDir, plan.SnapshotFileName)
		}
		return s, p, nil
	}
	s, err := src.load(cmd.Context(), g)
	if err != nil {
		return nil, nil, err
	}
	p, err := translate.Translate(s, translate.DefaultOptions())
	if err != nil {
		return nil, nil, withCode(exitUsage, fmt.Errorf("planning: %w", err))
	}
	return s, p, nil
}

// catalogFor returns the instance catalog for a snapshot's region, overlaid with the
// snapshot's own instance-type facts and the user's prices file.
func catalogFor(s *snapshot.Snapshot, pricesPath string) (*catalog.Catalog, error) {
	cat, err := catalog.Embedded()
	if err != nil {
		return nil, err
	}
	if s.Cluster.Region != "" {
		cat = cat.ForRegion(s.Cluster.Region)
	}
	cat = cat.WithSnapshot(s)
	if pricesPath != "" {
		f, err := os.Open(pricesPath)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("reading prices: %w", err))
		}
		defer f.Close()
		if cat, err = cat.WithPrices(f); err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("%s: %w", pricesPath, err))
		}
	}
	return cat, nil
}
