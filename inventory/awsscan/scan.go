package awsscan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// DefaultConcurrency bounds the per-group calls in flight when Options.Concurrency is 0.
const DefaultConcurrency = 8

// Options says what to scan.
type Options struct {
	Cluster string
	// Region is recorded in the snapshot and named in messages; the clients must
	// already be configured for it. Empty = taken from the cluster ARN.
	Region string
	// Cluster Autoscaler's scope, from its Deployment flags (both empty when CA was not found):
	AutoDiscovery []string             // raw --node-group-auto-discovery values, e.g. "asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod"
	NodesFlags    []snapshot.NodesFlag // --nodes=min:max:name
	Concurrency   int                  // bounded concurrency for per-group calls (default 8)
	Logger        *slog.Logger         // progress at Info level; nil = discard
}

// Result is the AWS part of a snapshot. Every list is sorted.
type Result struct {
	Cluster         snapshot.Cluster
	Groups          []snapshot.Group // Autoscaler fields filled from ASG tags and flags; Priority left nil
	LaunchTemplates []snapshot.LaunchTemplate
	Subnets         []snapshot.Subnet
	InstanceTypes   []snapshot.InstanceType
	FargateProfiles []snapshot.FargateProfile
	// Warnings says what could not be read or looks wrong (denied calls, missing
	// ASGs or launch templates, malformed CA tags), one sentence each, for
	// snapshot.Meta.Warnings.
	Warnings []string
}

// Scan reads the cluster's AWS resources, read-only (Describe/List calls only).
//
// Groups holds every managed node group (with the Auto Scaling group behind it) and,
// as self-managed groups, every other Auto Scaling group that is in Cluster
// Autoscaler's scope (auto-discovery tags or --nodes) or tagged for the cluster
// (kubernetes.io/cluster/<name>, k8s.io/cluster-autoscaler/<name>,
// eks:cluster-name=<name>); GroupAutoscaler.InScope/ScopeReason say which CA manages.
// When CA's flags are unknown (both empty), a group counts as in scope when its ASG
// carries CA's default auto-discovery tags (k8s.io/cluster-autoscaler/enabled and
// k8s.io/cluster-autoscaler/<name>).
//
// Errors: a missing cluster is ErrClusterNotFound; bad credentials ErrCredentials;
// no permission for DescribeCluster ErrAccessDenied (all *Error, one line each). No
// permission for any other call, or a call the endpoint does not implement, only adds
// a warning. Any other failure stops the scan.
func Scan(ctx context.Context, c awsapi.Clients, opts Options) (*Result, error) {
	if opts.Cluster == "" {
		return nil, errors.New("scanning AWS: no cluster name given")
	}
	if c.EKS == nil || c.AutoScaling == nil || c.EC2 == nil {
		return nil, errors.New("scanning AWS: the EKS, Auto Scaling and EC2 clients are all required")
	}
	s := &scanner{c: c, opts: opts, conc: opts.Concurrency, log: opts.Logger}
	if s.conc <= 0 {
		s.conc = DefaultConcurrency
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s.run(ctx)
}

type scanner struct {
	c    awsapi.Clients
	opts Options
	conc int
	log  *slog.Logger

	mu       sync.Mutex
	warnings []string

	asgUnread bool                // DescribeAutoScalingGroups was refused: absent ASGs are unknown, not missing
	asgNotes  map[string][]string // ASG name → settings without a snapshot field
}

func (s *scanner) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.warnings, msg) {
		s.warnings = append(s.warnings, msg)
	}
}

func (s *scanner) run(ctx context.Context) (*Result, error) {
	s.log.Info("describing EKS cluster", "cluster", s.opts.Cluster, "region", s.opts.Region)
	cluster, err := s.describeCluster(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Cluster: cluster}
	if cluster.Status != "" && cluster.Status != "ACTIVE" {
		s.warnf("cluster %q is %s, not ACTIVE; what was read may be changing", cluster.Name, cluster.Status)
	}

	nodegroups, err := s.nodegroups(ctx)
	if err != nil {
		return nil, err
	}
	s.log.Info("read managed node groups", "count", len(nodegroups))

	sc := newScope(s.opts.Cluster, s.opts.AutoDiscovery, s.opts.NodesFlags, s.warnf)
	asgs, err := s.autoScalingGroups(ctx, nodegroups, sc)
	if err != nil {
		return nil, err
	}
	res.Groups = s.buildGroups(nodegroups, asgs, sc)
	s.log.Info("read Auto Scaling groups", "count", len(asgs), "groups", len(res.Groups))

	if err := s.instanceLifecycles(ctx, res.Groups); err != nil {
		return nil, err
	}
	if res.LaunchTemplates, err = s.launchTemplates(ctx, res.Groups); err != nil {
		return nil, err
	}
	s.log.Info("read launch templates", "count", len(res.LaunchTemplates))
	if res.FargateProfiles, err = s.fargateProfiles(ctx); err != nil {
		return nil, err
	}
	s.log.Info("read Fargate profiles", "count", len(res.FargateProfiles))
	if res.Subnets, err = s.subnets(ctx, res); err != nil {
		return nil, err
	}
	s.log.Info("read subnets", "count", len(res.Subnets))
	if res.InstanceTypes, err = s.instanceTypes(ctx, res); err != nil {
		return nil, err
	}
	s.log.Info("read instance types", "count", len(res.InstanceTypes))

	res.Warnings = slices.Clone(s.warnings)
	sortResult(res)
	return res, nil
}
