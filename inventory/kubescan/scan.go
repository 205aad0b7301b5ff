package kubescan

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/pager"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// DefaultPageSize is the list page size used when Options.PageSize is 0.
const DefaultPageSize = 500

// Options tunes a scan.
type Options struct {
	// PageSize is the Limit of every list call (DefaultPageSize when 0).
	PageSize int64
	// Concurrency bounds the lists run in parallel (4 when 0).
	Concurrency int
	// Dynamic, when set, is used to list existing NodePools and EC2NodeClasses if their
	// CRDs are served; nil skips that.
	Dynamic dynamic.Interface
	// Logger receives progress at Debug and Info; nil discards.
	Logger *slog.Logger
}

// Result is the Kubernetes part of a snapshot. Lists are in API order; the caller sorts
// the assembled snapshot. Node.Group and Karpenter.HostGroups are left for the caller,
// which knows the AWS groups.
type Result struct {
	Nodes             []snapshot.Node
	Pods              []snapshot.Pod
	PDBs              []snapshot.PDB
	DaemonSets        []snapshot.DaemonSet
	PersistentVolumes []snapshot.PersistentVolume

	// Autoscaler is nil when no Cluster Autoscaler Deployment was found.
	Autoscaler *snapshot.Autoscaler
	// Karpenter is nil when neither its CRDs nor its controller were found.
	Karpenter *snapshot.Karpenter
	// TerminationHandler is nil when aws-node-termination-handler was not found.
	TerminationHandler *snapshot.TerminationHandler
	// AWSAuth is nil when the aws-auth ConfigMap does not exist or cannot be read.
	AWSAuth *snapshot.AWSAuth

	// Warnings says what could not be read and what was guessed.
	Warnings []string
}

// Scan reads the cluster through kube. Lists that every later stage depends on
// (nodes, pods, PDBs, DaemonSets, PVs, Deployments) fail the scan; optional reads
// (ReplicaSets, ConfigMaps, discovery, Karpenter objects) add a warning instead. A
// Cluster Autoscaler command line that does not parse is an error naming the
// Deployment.
func Scan(ctx context.Context, kube kubernetes.Interface, opts Options) (*Result, error) {
	s := newScanner(kube, opts)
	start := time.Now()

	// Phase 1: the pods and everything they are resolved against, in parallel (the pods,
	// by far the longest list, first).
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	g.Go(func() error { return s.scanPods(gctx) })
	g.Go(func() error { return s.scanNodes(gctx) })
	g.Go(func() error { return s.scanPersistentVolumes(gctx) })
	g.Go(func() error { return s.scanReplicaSets(gctx) })
	g.Go(func() error { return s.scanDeployments(gctx) })
	g.Go(func() error { return s.scanDaemonSets(gctx) })
	g.Go(func() error { return s.scanPDBs(gctx) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	s.log.Debug("listed pods, nodes, volumes, controllers and PDBs",
		"pods", len(s.res.Pods), "nodes", len(s.res.Nodes), "persistentVolumes", len(s.res.PersistentVolumes),
		"daemonSets", len(s.res.DaemonSets), "pdbs", len(s.res.PDBs))

	// Phase 2: what hangs off the controllers found in phase 1.
	s.pickControllers()
	s.resolvePods()
	if err := s.buildAutoscaler(ctx); err != nil {
		return nil, err
	}
	s.buildTerminationHandler()
	s.scanKarpenter(ctx)
	s.scanAWSAuth(ctx)

	slices.Sort(s.res.Warnings)
	s.log.Info("scanned Kubernetes", "nodes", len(s.res.Nodes), "pods", len(s.res.Pods),
		"pdbs", len(s.res.PDBs), "daemonSets", len(s.res.DaemonSets),
		"persistentVolumes", len(s.res.PersistentVolumes),
		"clusterAutoscaler", s.res.Autoscaler != nil, "karpenter", s.res.Karpenter != nil,
		"warnings", len(s.res.Warnings), "took", time.Since(start).Round(time.Millisecond))
	return &s.res, nil
}

// scanner holds one scan's state. Phase-1 goroutines each own one field of res and of
// the lookup tables; only warn is shared, under mu.
type scanner struct {
	kube        kubernetes.Interface
	dyn         dynamic.Interface
	pageSize    int64
	concurrency int
	log         *slog.Logger

	mu  sync.Mutex
	res Result

	// claimZones maps "namespace/claim" of bound PVs to their zones.
	claimZones map[string][]string
	// rsOwners maps "namespace/replicaset" of live ReplicaSets to their Deployment
	// ("" for a ReplicaSet without one); nil when ReplicaSets could not be listed.
	rsOwners map[string]string
	// Controllers of interest found among Deployments and DaemonSets, and the ones
	// chosen among them (pickControllers).
	caCandidates        []candidate
	karpenterCandidates []candidate
	deploymentNTH       []candidate
	daemonSetNTH        []candidate
	ca, karpenter, nth  *candidate
	// karpenterNodes collects the nodes running Karpenter controller pods.
	karpenterNodes map[string]bool
}

func newScanner(kube kubernetes.Interface, opts Options) *scanner {
	s := &scanner{
		kube:        kube,
		dyn:         opts.Dynamic,
		pageSize:    opts.PageSize,
		concurrency: opts.Concurrency,
		log:         opts.Logger,
	}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.concurrency <= 0 {
		s.concurrency = 4
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *scanner) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.log.Warn(msg)
	s.mu.Lock()
	s.res.Warnings = append(s.res.Warnings, msg)
	s.mu.Unlock()
}

// listFunc adapts a typed List method to the pager's page function.
func listFunc[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) (runtime.Object, error) {
	return func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		l, err := list(ctx, o)
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

// each lists page by page and calls fn on every item. fn must not keep the item
// itself (the page is reused); keeping converted values is the point.
func (s *scanner) each(ctx context.Context, what string, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (runtime.Object, error), fn func(runtime.Object) error) error {
	p := pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, o) })
	p.PageSize = s.pageSize
	p.PageBufferSize = 1 // one page in flight while the previous one is converted
	if err := p.EachListItem(ctx, opts, fn); err != nil {
		return fmt.Errorf("listing %s: %w", what, err)
	}
	return nil
}
