package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// sourceOptions selects where a command's snapshot comes from: a saved file
// (--snapshot) or a live scan of --cluster.
type sourceOptions struct {
	snapshotPath string
}

func (o *sourceOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.snapshotPath, "snapshot", "", "read this saved snapshot (from 'inventory --save') instead of scanning a live cluster")
}

// load returns the snapshot: from the file when --snapshot is given, else from a live
// scan of the cluster named by --cluster.
func (o *sourceOptions) load(ctx context.Context, g *globalOptions) (*snapshot.Snapshot, error) {
	if o.snapshotPath != "" {
		s, err := snapshot.LoadFile(o.snapshotPath)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		return s, nil
	}
	if g.cluster == "" {
		return nil, usageError("either --snapshot FILE or --cluster NAME is required")
	}
	return g.scan(ctx)
}
