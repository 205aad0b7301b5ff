package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsscan"
	"github.com/karpshift/karpshift/inventory/kubescan"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Clients are the read-only clients a scan uses. Dynamic may be nil (existing
// NodePools and EC2NodeClasses are then not listed).
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	AWS     awsapi.Clients
}

// Options configures a scan.
type Options struct {
	// Cluster is the EKS cluster name; Region its region.
	Cluster, Region string
	// Concurrency bounds parallel calls in each scanner (their defaults when 0).
	Concurrency int
	// Logger receives progress at Info; nil discards.
	Logger *slog.Logger
	// ToolVersion is recorded in the snapshot's metadata.
	ToolVersion string
	// Now stamps Metadata.CapturedAt; time.Now when nil.
	Now func() time.Time
}

// awsScanFunc is awsscan.Scan's signature, so tests can supply the AWS side.
type awsScanFunc func(context.Context, awsapi.Clients, awsscan.Options) (*awsscan.Result, error)

// Scan reads the cluster's Kubernetes and AWS state into a sorted, validated
// snapshot. It is read-only on both sides. Kubernetes comes first because Cluster
// Autoscaler's flags (auto-discovery tags, --nodes) define which Auto Scaling groups
// the AWS scan puts in scope.
//
// Errors from either scanner are returned as they are (awsscan's *Error kinds can be
// told apart with errors.Is); a snapshot that fails snapshot.Validate is an error
// wrapping snapshot.ErrInvalid, since it could not be loaded back.
func Scan(ctx context.Context, c Clients, opts Options) (*snapshot.Snapshot, error) {
	return scan(ctx, c, opts, awsscan.Scan)
}

func scan(ctx context.Context, c Clients, opts Options, awsScan awsScanFunc) (*snapshot.Snapshot, error) {
	if c.Kube == nil {
		return nil, errors.New("scanning: no Kubernetes client")
	}
	if opts.Cluster == "" {
		return nil, errors.New("scanning: no cluster name given")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	start := time.Now()

	log.Info("scanning Kubernetes", "cluster", opts.Cluster)
	kres, err := kubescan.Scan(ctx, c.Kube, kubescan.Options{
		Concurrency: opts.Concurrency,
		Dynamic:     c.Dynamic,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("scanning Kubernetes: %w", err)
	}

	aopts := awsscan.Options{
		Cluster:     opts.Cluster,
		Region:      opts.Region,
		Concurrency: opts.Concurrency,
		Logger:      log,
	}
	if a := kres.Autoscaler; a != nil {
		aopts.AutoDiscovery = a.Flags.NodeGroupAutoDiscovery
		aopts.NodesFlags = a.Flags.Nodes
		log.Info("found Cluster Autoscaler", "deployment", a.Namespace+"/"+a.Deployment, "version", a.Version,
			"autoDiscovery", len(a.Flags.NodeGroupAutoDiscovery), "nodes", len(a.Flags.Nodes), "expander", a.Flags.Expander)
	} else {
		log.Info("no Cluster Autoscaler Deployment found; using its default auto-discovery tags for the AWS scope")
	}
	log.Info("scanning AWS", "cluster", opts.Cluster, "region", opts.Region)
	ares, err := awsScan(ctx, c.AWS, aopts)
	if err != nil {
		return nil, err // awsscan errors already say what they were doing
	}

	s := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion,
		Kind:       snapshot.Kind,
		Metadata: snapshot.Meta{
			Source:      "live",
			ToolVersion: opts.ToolVersion,
			CapturedAt:  now().UTC().Format(time.RFC3339),
		},
		Cluster:            ares.Cluster,
		Groups:             ares.Groups,
		LaunchTemplates:    ares.LaunchTemplates,
		Subnets:            ares.Subnets,
		InstanceTypes:      ares.InstanceTypes,
		FargateProfiles:    ares.FargateProfiles,
		Autoscaler:         kres.Autoscaler,
		Karpenter:          kres.Karpenter,
		TerminationHandler: kres.TerminationHandler,
		AWSAuth:            kres.AWSAuth,
		Nodes:              kres.Nodes,
		Pods:               kres.Pods,
		PDBs:               kres.PDBs,
		DaemonSets:         kres.DaemonSets,
		PersistentVolumes:  kres.PersistentVolumes,
	}
	if s.Cluster.Name == "" {
		s.Cluster.Name = opts.Cluster
	}
	if s.Cluster.Region == "" {
		s.Cluster.Region = opts.Region
	}
	warnings := slices.Concat(kres.Warnings, ares.Warnings)

	grouped, ungrouped := assignGroups(s.Nodes, s.Groups)
	warnings = append(warnings, ungrouped...)
	log.Info("mapped nodes to groups", "nodes", len(s.Nodes), "grouped", grouped, "groups", len(s.Groups))
	if n := applyPriorities(s.Autoscaler, s.Groups); n > 0 {
		log.Info("applied priority-expander priorities", "groups", n)
	}
	warnings = append(warnings, karpenterHostGroups(s.Karpenter, s.Nodes)...)

	slices.Sort(warnings)
	s.Metadata.Warnings = slices.Compact(warnings)
	s.Sort()
	if errs := snapshot.Validate(s); len(errs) > 0 {
		return nil, fmt.Errorf("%w: the scanned snapshot is inconsistent: %v", snapshot.ErrInvalid, errs.ToAggregate())
	}
	log.Info("inventory complete", "groups", len(s.Groups), "nodes", len(s.Nodes), "pods", len(s.Pods),
		"warnings", len(s.Metadata.Warnings), "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}
