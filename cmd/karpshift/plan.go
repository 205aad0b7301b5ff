package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/migrate/validate"
	"github.com/karpshift/karpshift/render"
)

type planOptions struct {
	source sourceOptions
	out    string
	output string
	crds   string
	// simulate runs the embedded provisioner and adds unschedulable pods as findings.
	simulate bool

	merge, ami, karpenterVersion string
	freeze, freezeFor, nodeRole  string
	flexible                     bool
	exclude, keep                []string

	opts plan.Options // completed
}

func newPlanCommand(g *globalOptions) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan (--snapshot FILE | --cluster NAME) [--out DIR] [-o yaml|json]",
		Short: "Translate node groups and Cluster Autoscaler settings into Karpenter NodePools and EC2NodeClasses",
		Long: `plan translates every node group Cluster Autoscaler manages into a Karpenter v1
NodePool and EC2NodeClass (groups that differ only in instance types or zones share
one with --merge auto), decides which groups stay (the one running Karpenter, --keep,
--exclude), orders the cutover (lowest Cluster Autoscaler priority first) and reports
every setting that does not carry over as a finding with its fix. It changes nothing.

By default the manifests are valid on every Karpenter release from v1.0.8 to v1.15.2;
--karpenter-version 1.N allows fields newer releases accept.

With --out DIR it writes DIR/nodepools/*.yaml, DIR/ec2nodeclasses/*.yaml,
DIR/kustomization.yaml, DIR/plan.yaml (each group's fate, the cutover order, the
findings), DIR/FINDINGS.md and DIR/snapshot.yaml (so simulate and migrate can work
from the directory offline). Without --out it prints the manifests.`,
		Example: `  karpshift plan --snapshot prod.snapshot.yaml --out ./plan
  karpshift plan --cluster prod --region eu-west-1 | kubectl apply --dry-run=server -f -
  karpshift plan --snapshot prod.snapshot.yaml --merge none --flexible --out ./plan
  karpshift plan --snapshot prod.snapshot.yaml --freeze "0 9 * * 1-5" --freeze-for 8h --keep system --out ./plan`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, g)
		},
	}
	o.source.addFlags(cmd)
	d := translate.DefaultOptions()
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "write the plan directory here (created if missing); without it the manifests go to stdout")
	f.StringVarP(&o.output, "output", "o", "yaml", "format of the manifests printed without --out: yaml (multi-document) or json (a v1 List)")
	f.StringVar(&o.merge, "merge", d.Merge, "auto: one NodePool for groups that differ only in instance types or zones; none: one per group")
	f.BoolVar(&o.flexible, "flexible", false, "widen instance types to their categories and sizes (same or newer generation); spot pools keep as many types per launch via minValues")
	f.StringVar(&o.ami, "ami", d.AMI, "pinned: AMI aliases pinned to each group's release (Windows is always @latest); latest: @latest everywhere")
	f.StringVar(&o.karpenterVersion, "karpenter-version", d.KarpenterVersion, "the oldest Karpenter release the output must be valid on (e.g. 1.15); newer releases unlock newer fields")
	f.StringVar(&o.freeze, "freeze", "", `a cron schedule (UTC) during which Karpenter may not disrupt nodes, e.g. "0 9 * * 1-5"`)
	f.StringVar(&o.freezeFor, "freeze-for", "", "how long each --freeze window lasts, e.g. 8h")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave this group out of the migration, untouched (repeatable)")
	f.StringArrayVar(&o.keep, "keep", nil, "keep this group as it is next to Karpenter, e.g. to host it (repeatable)")
	f.StringVar(&o.nodeRole, "node-role", "", "IAM role (name or ARN) every EC2NodeClass uses instead of the groups' roles")
	f.BoolVar(&o.simulate, "simulate", true, "simulate the plan and add every pod that would not schedule as a blocking finding")
	f.StringVar(&o.crds, "crds", "", "validate every generated object against the Karpenter CRDs in this directory before writing")
	return cmd
}

// complete turns the flags into translation options in canonical form.
func (o *planOptions) complete() error {
	opts, err := translate.NormalizeOptions(plan.Options{
		Merge: o.merge, Flexible: o.flexible, AMI: o.ami, KarpenterVersion: o.karpenterVersion,
		FreezeSchedule: o.freeze, FreezeFor: o.freezeFor, Exclude: o.exclude, Keep: o.keep, NodeRole: o.nodeRole,
	})
	if err != nil {
		return usageError("%s", flagError(err))
	}
	o.opts = opts
	return nil
}

// flagError rewords an option error in terms of the command's flags.
func flagError(err error) string {
	return "--" + strings.TrimPrefix(err.Error(), translate.ErrOption.Error()+": ")
}

func (o *planOptions) validate() error {
	switch o.output {
	case "yaml", "json":
	default:
		return usageError("-o %q: want yaml or json", o.output)
	}
	if o.out != "" {
		if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
			return usageError("--out %s: not a directory", o.out)
		}
	}
	return nil
}

func (o *planOptions) run(cmd *cobra.Command, g *globalOptions) error {
	s, err := o.source.load(cmd.Context(), g)
	if err != nil {
		return err
	}
	// The normalised snapshot is the one the plan's fingerprint describes, so it is the
	// one written next to the plan.
	ns, err := translate.Normalize(s)
	if err != nil {
		return withCode(exitUsage, err)
	}
	p, err := translate.Translate(ns, o.opts)
	switch {
	case errors.Is(err, translate.ErrOption):
		return usageError("%s", flagError(err))
	case err != nil:
		return withCode(exitUsage, fmt.Errorf("planning: %w", err))
	}
	if o.simulate {
		// Pods that would not schedule under the plan become blocking findings.
		cat, err := catalogFor(ns, "")
		if err != nil {
			return err
		}
		pred, err := provision.Simulate(provision.Input{Snapshot: ns, Plan: p, Catalog: cat}, provision.Options{})
		if err != nil {
			return fmt.Errorf("simulating the plan: %w", err)
		}
		p.Findings = append(p.Findings, pred.Findings()...)
	}
	if o.crds != "" {
		v, err := validate.Load(o.crds)
		if err != nil {
			return withCode(exitUsage, err)
		}
		if errs := v.ValidatePlan(p); len(errs) > 0 {
			return fmt.Errorf("the generated objects do not pass the CRDs in %s (nothing written): %v", o.crds, errs.ToAggregate())
		}
	}
	if o.out == "" {
		var b []byte
		if o.output == "json" {
			b, err = render.ManifestsJSON(p)
		} else {
			b, err = render.ManifestsYAML(p)
		}
		if err != nil {
			return err
		}
		if _, err := g.streams.Out.Write(b); err != nil {
			return err
		}
		if n := len(p.Findings); n > 0 {
			fmt.Fprintf(g.streams.Err, "%s; use --out DIR for FINDINGS.md and plan.yaml\n", findingsSummary(p))
		}
		return nil
	}
	files, err := render.PlanFiles(p, ns)
	if err != nil {
		return err
	}
	if err := writePlanDir(o.out, files); err != nil {
		return err
	}
	g.logger.Info("plan written", "dir", o.out, "files", len(files))
	counts := map[plan.Action]int{}
	for _, m := range p.Groups {
		counts[m.Action]++
	}
	fmt.Fprintf(g.streams.Out, "Plan for %s written to %s: %d NodePool(s) and EC2NodeClass(es); groups: %d migrate, %d keep, %d exclude.\n",
		p.Cluster, o.out, len(p.NodePools), counts[plan.ActionMigrate], counts[plan.ActionKeep], counts[plan.ActionExclude])
	if len(p.Order) > 0 {
		fmt.Fprintf(g.streams.Out, "Cutover order: %s.\n", strings.Join(p.Order, ", "))
	}
	fmt.Fprintf(g.streams.Out, "%s: see %s.\n", findingsSummary(p), filepath.Join(o.out, render.FindingsFile))
	return nil
}

func findingsSummary(p *plan.Plan) string {
	counts := map[plan.Severity]int{}
	for _, f := range p.Findings {
		counts[f.Severity]++
	}
	return fmt.Sprintf("%d findings (%d blocking, %d warnings, %d notes)", len(p.Findings), counts[plan.SeverityBlock], counts[plan.SeverityWarn], counts[plan.SeverityInfo])
}

// managedDirs are the plan directory's object folders: every *.yaml in them belongs to
// the plan, so files left from an earlier plan are removed (kubectl apply -f DIR/nodepools
// must not resurrect a NodePool the new plan dropped).
var managedDirs = []string{render.NodePoolsDir, render.EC2NodeClassesDir}

// writePlanDir writes the files under dir, each atomically.
func writePlanDir(dir string, files map[string][]byte) error {
	for _, d := range managedDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Join(dir, d), err)
		}
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(dir, d), err)
		}
		for _, e := range entries {
			rel := d + "/" + e.Name()
			if _, keep := files[rel]; !keep && !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
				if err := os.Remove(filepath.Join(dir, d, e.Name())); err != nil {
					return fmt.Errorf("removing stale %s: %w", rel, err)
				}
			}
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(full), err)
		}
		if err := snapshot.WriteFileAtomic(full, files[p]); err != nil {
			return err
		}
	}
	return nil
}
