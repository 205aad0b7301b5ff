package main

import (
	"context"
	"time"

	"github.com/karpshift/karpshift/inventory"
	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// scan runs a live, read-only inventory of --cluster.
func (g *globalOptions) scan(ctx context.Context) (*snapshot.Snapshot, error) {
	if g.cluster == "" {
		return nil, usageError("--cluster NAME is required to scan a live cluster")
	}
	kube, dyn, _, err := g.kubeClients()
	if err != nil {
		return nil, err
	}
	cfg, err := g.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return inventory.Scan(ctx, inventory.Clients{Kube: kube, Dynamic: dyn, AWS: awsapi.NewClients(cfg)}, inventory.Options{
		Cluster:     g.cluster,
		Region:      cfg.Region,
		Logger:      g.logger,
		ToolVersion: toolVersion(),
		Now:         time.Now,
	})
}
