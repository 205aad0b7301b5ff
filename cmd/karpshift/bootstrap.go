package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/migrate/bootstrap"
	"github.com/karpshift/karpshift/migrate/bootstrap/cloud"
	"github.com/karpshift/karpshift/render"
)

type bootstrapOptions struct {
	source   sourceOptions
	planDir  string
	specPath string
	outDir   string
	format   string
	approve  bool
	verify   bool
	derive   bootstrap.Options
	ident    string
}

func newBootstrapCommand(g *globalOptions) *cobra.Command {
	o := &bootstrapOptions{}
	cmd := &cobra.Command{
		Use:   "bootstrap (--snapshot FILE | --cluster NAME | --spec FILE) [--plan DIR] [--out DIR] [--format cloudformation|terraform|shell] [--approve | --verify]",
		Short: "Set up what Karpenter needs in AWS: node role, controller role, interruption queue, node access, discovery tags, Helm values",
		Long: `bootstrap derives, from the snapshot and the plan, everything Karpenter needs before
its controller can run:

  - the node role (EKS worker, CNI, ECR pull and SSM core policies), or the reuse of
    an existing one with the shared-role risk stated, and the instance profiles the
    EC2NodeClasses name;
  - the controller role with the permissions Karpenter documents, scoped to this
    cluster, through IRSA (the cluster's OIDC issuer) or EKS Pod Identity;
  - the interruption queue and its EventBridge rules (spot interruption, rebalance,
    instance state change, AWS Health scheduled change, capacity reservation) and the
    controller's SQS permissions, when a NodePool allows spot;
  - node access: an EC2_LINUX / EC2_WINDOWS access entry when the authentication mode
    allows it, else the aws-auth mapping;
  - discovery tags on exactly the subnets and security groups the EC2NodeClasses
    select by tag (none when they select by id);
  - Helm values pinning two controller replicas to kept groups or a Fargate profile,
    and NOTES.md with the exact helm upgrade --install commands.

--out DIR writes it as CloudFormation, Terraform or a shell script (--format) plus
karpenter-values.yaml and NOTES.md; without --out, NOTES.md goes to stdout.
Nothing in AWS changes without --approve, which creates the resources through the
AWS API: idempotently (a second run changes nothing), reporting drift, and never
touching a resource it did not create (it tags everything karpshift.dev/managed-by).
--verify only reads, and exits 3 when something is missing or not karpshift's.
--spec FILE works from the karpshift-bootstrap.yaml an earlier --out saved, so
--approve and --verify act on exactly what was reviewed.`,
		Example: `  karpshift bootstrap --snapshot prod.yaml --plan ./plan --out ./bootstrap --format terraform
  karpshift bootstrap --plan ./plan --approve
  karpshift bootstrap --spec ./bootstrap/karpshift-bootstrap.yaml --verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd, g)
		},
	}
	o.source.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.planDir, "plan", "", "a plan directory from 'karpshift plan --out DIR' (default: plan the snapshot with default options)")
	f.StringVar(&o.specPath, "spec", "", "use the bootstrap saved by an earlier --out ("+render.BootstrapSpecFile+") instead of deriving it from a snapshot and a plan")
	f.StringVar(&o.outDir, "out", "", "write the bootstrap files to this directory (created if needed)")
	f.StringVar(&o.format, "format", string(render.BootstrapCloudFormation), "format of the AWS resources: cloudformation, terraform or shell")
	f.BoolVar(&o.approve, "approve", false, "create the AWS resources now, through the AWS API")
	f.BoolVar(&o.verify, "verify", false, "only check the AWS resources (read-only); exit 3 when something blocks")
	f.StringVar(&o.ident, "identity", "", "how the controller gets its role: irsa or pod-identity (default: irsa when the cluster has an OIDC issuer)")
	f.StringVar(&o.derive.Interruption, "interruption", bootstrap.InterruptionAuto, "interruption queue: auto (when a NodePool allows spot), on or off")
	f.StringVar(&o.derive.Namespace, "namespace", "", "the controller's namespace (default kube-system, or the Fargate profile's)")
	f.StringVar(&o.derive.ChartVersion, "chart-version", bootstrap.DefaultChartVersion, "Karpenter chart version")
	f.StringSliceVar(&o.derive.HostGroups, "host-group", nil, "pin the controller to these kept groups (repeatable)")
	f.StringVar(&o.derive.FargateProfile, "fargate-profile", "", "run the controller on this Fargate profile")
	f.StringSliceVar(&o.derive.ExistingRoles, "existing-role", nil, "node roles that exist and are used as they are (repeatable)")
	f.StringVar(&o.derive.ProfileRole, "profile-role", "", "the role inside the instance profiles the EC2NodeClasses name")
	f.StringVar(&o.derive.QueueName, "queue-name", "", "interruption queue name (default Karpenter-<cluster>)")
	return cmd
}

func (o *bootstrapOptions) validate() error {
	if !slices.Contains(render.BootstrapFormats, render.BootstrapFormat(o.format)) {
		return usageError("--format %q: want cloudformation, terraform or shell", o.format)
	}
	if o.approve && o.verify {
		return usageError("--approve and --verify exclude each other")
	}
	if o.specPath != "" && (o.planDir != "" || o.source.snapshotPath != "") {
		return usageError("--spec replaces --snapshot and --plan; pass one or the other")
	}
	switch o.ident {
	case "", string(bootstrap.IdentityIRSA), string(bootstrap.IdentityPodIdentity):
		o.derive.Identity = bootstrap.Identity(o.ident)
	default:
		return usageError("--identity %q: want irsa or pod-identity", o.ident)
	}
	return nil
}

func (o *bootstrapOptions) run(cmd *cobra.Command, g *globalOptions) error {
	spec, err := o.spec(cmd, g)
	if err != nil {
		return err
	}
	files, err := render.BootstrapFiles(spec, render.BootstrapFormat(o.format))
	if err != nil {
		return err
	}
	if o.outDir != "" {
		if err := writeBootstrapFiles(o.outDir, files); err != nil {
			return err
		}
		fmt.Fprintf(g.streams.Err, "wrote %s\n", strings.Join(bootstrapPaths(files, o.outDir), ", "))
	} else if !o.approve && !o.verify {
		if _, err := g.streams.Out.Write(files[render.BootstrapNotesFile]); err != nil {
			return err
		}
	}
	for _, n := range spec.Notes {
		if n.Severity == bootstrap.NoteWarn {
			fmt.Fprintf(g.streams.Err, "warning: %s\n", n.Message)
		}
	}
	switch {
	case o.verify:
		return o.runVerify(cmd, g, spec)
	case o.approve:
		return o.runApply(cmd, g, spec)
	}
	fmt.Fprintln(g.streams.Err, "No AWS resource was changed; pass --approve to create them, or apply the files written with --out.")
	return nil
}

// spec returns the bootstrap: the saved one (--spec), or derived from the snapshot and
// the plan with the command's options.
func (o *bootstrapOptions) spec(cmd *cobra.Command, g *globalOptions) (*bootstrap.Spec, error) {
	if o.specPath != "" {
		spec, err := bootstrap.LoadSpecFile(o.specPath)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		return spec, nil
	}
	s, p, err := loadSnapshotAndPlan(cmd, g, &o.source, o.planDir)
	if err != nil {
		return nil, err
	}
	spec, err := bootstrap.Derive(s, p, o.derive)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return spec, nil
}

func (o *bootstrapOptions) clients(cmd *cobra.Command, g *globalOptions, spec *bootstrap.Spec) (cloud.Clients, error) {
	region := g.region
	if region == "" {
		region = spec.Region
	}
	cfg, err := awsapi.LoadConfig(cmd.Context(), region, g.profile)
	if err != nil {
		return cloud.Clients{}, withCode(exitUsage, err)
	}
	if cfg.Region != spec.Region {
		return cloud.Clients{}, usageError("the cluster is in %s but the AWS configuration says %s (--region)", spec.Region, cfg.Region)
	}
	c := cloud.NewClients(cfg)
	if slices.ContainsFunc(spec.NodeAccess, func(a bootstrap.NodeAccess) bool { return a.Method == bootstrap.AccessAWSAuth }) {
		kube, _, _, err := g.kubeClients()
		if err != nil {
			fmt.Fprintf(g.streams.Err, "warning: no Kubernetes client (%v): aws-auth is left to you\n", err)
		} else {
			c.AWSAuth = kube.CoreV1().ConfigMaps("kube-system")
		}
	}
	return c, nil
}

func (o *bootstrapOptions) runApply(cmd *cobra.Command, g *globalOptions, spec *bootstrap.Spec) error {
	c, err := o.clients(cmd, g, spec)
	if err != nil {
		return err
	}
	counts := map[cloud.Action]int{}
	err = cloud.Apply(cmd.Context(), c, spec, func(e cloud.Event) {
		counts[e.Action]++
		fmt.Fprintf(g.streams.Err, "%-8s %s: %s\n", e.Action, e.Resource, e.Message)
	})
	fmt.Fprintf(g.streams.Out, "bootstrap of %s: %d created, %d completed, %d unchanged, %d drifted, %d refused, %d skipped, %d failed\n",
		spec.Cluster.Name, counts[cloud.ActionCreate], counts[cloud.ActionComplete], counts[cloud.ActionExists], counts[cloud.ActionDrift],
		counts[cloud.ActionRefuse], counts[cloud.ActionSkip], counts[cloud.ActionFail])
	if err != nil {
		if errors.Is(err, awsapi.ErrCredentials) || errors.Is(awsapi.Classify(err), awsapi.ErrCredentials) {
			return fmt.Errorf("bootstrap: %w", awsapi.ErrCredentials)
		}
		return fmt.Errorf("bootstrap incomplete: %w", err)
	}
	fmt.Fprintf(g.streams.Err, "Next: install Karpenter with the helm commands in %s.\n", render.BootstrapNotesFile)
	return nil
}

func (o *bootstrapOptions) runVerify(cmd *cobra.Command, g *globalOptions, spec *bootstrap.Spec) error {
	c, err := o.clients(cmd, g, spec)
	if err != nil {
		return err
	}
	problems := cloud.Verify(cmd.Context(), c, spec)
	blocked := 0
	for _, p := range problems {
		if p.Severity == cloud.SeverityBlock {
			blocked++
		}
		line := fmt.Sprintf("%-5s %s: %s", p.Severity, p.Resource, p.Message)
		if p.Fix != "" {
			line += " — fix: " + p.Fix
		}
		fmt.Fprintln(g.streams.Out, line)
	}
	if len(problems) == 0 {
		fmt.Fprintf(g.streams.Out, "bootstrap of %s is complete\n", spec.Cluster.Name)
	}
	if blocked > 0 {
		return withCode(exitBlocked, fmt.Errorf("bootstrap of %s: %d blocking problem(s)", spec.Cluster.Name, blocked))
	}
	return nil
}

// writeBootstrapFiles writes the files under dir; the shell script is executable.
func writeBootstrapFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for name, b := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, mode); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if err := os.Chmod(path, mode); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

func bootstrapPaths(files map[string][]byte, dir string) []string {
	var out []string
	for k := range files {
		out = append(out, filepath.Join(dir, k))
	}
	slices.Sort(out)
	return out
}
