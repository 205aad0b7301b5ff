package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
	"github.com/karpshift/karpshift/migrate/translate"
	"github.com/karpshift/karpshift/render"
)

// Offline is a Backend over a snapshot: plan, simulate, write the plan directory and
// render runbooks work; Cutover returns ErrNoCutover and Live ErrNotLive. Backends that
// can cut over (the demo sandbox, a live cluster) embed it and override those two.
type Offline struct {
	snap *snapshot.Snapshot
	cfg  offlineConfig

	catOnce sync.Once
	cat     provision.Catalog
	catErr  error
}

// OfflineOption configures SnapshotBackend.
type OfflineOption func(*offlineConfig)

type offlineConfig struct {
	writeFiles func(dir string, files map[string][]byte) error
	catalog    provision.Catalog
}

// WithPlanWriter makes WritePlan write the rendered files with write, so the TUI
// writes a plan directory exactly as `karpshift plan --out` does (cmd passes its
// writer, which also removes manifests a previous plan left behind).
func WithPlanWriter(write func(dir string, files map[string][]byte) error) OfflineOption {
	return func(c *offlineConfig) { c.writeFiles = write }
}

// WithCatalog sets the instance-type catalog of simulations (default: the embedded
// catalog for the snapshot's region, overlaid with the snapshot's own types).
func WithCatalog(cat provision.Catalog) OfflineOption {
	return func(c *offlineConfig) { c.catalog = cat }
}

// SnapshotBackend returns a Backend over s for offline use (a --snapshot file, or a
// live scan before a cutover backend is wired). s is normalised first, as `karpshift
// plan` does, so the plans it makes carry the fingerprint of the snapshot it writes.
func SnapshotBackend(s *snapshot.Snapshot, opts ...OfflineOption) (*Offline, error) {
	if s == nil {
		return nil, fmt.Errorf("no snapshot")
	}
	ns, err := translate.Normalize(s)
	if err != nil {
		return nil, fmt.Errorf("normalising the snapshot: %w", err)
	}
	o := &Offline{snap: ns}
	for _, opt := range opts {
		opt(&o.cfg)
	}
	return o, nil
}

// Snapshot implements Backend.
func (o *Offline) Snapshot() *snapshot.Snapshot { return o.snap }

// Plan implements Backend: translate.Translate with the options normalised.
func (o *Offline) Plan(opts plan.Options) (*plan.Plan, error) {
	opts, err := translate.NormalizeOptions(opts)
	if err != nil {
		return nil, err
	}
	p, err := translate.Translate(o.snap, opts)
	if err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	return p, nil
}

// Catalog returns the catalog simulations use.
func (o *Offline) Catalog() (provision.Catalog, error) {
	o.catOnce.Do(func() {
		if o.cfg.catalog != nil {
			o.cat = o.cfg.catalog
			return
		}
		cat, err := catalog.Embedded()
		if err != nil {
			o.catErr = err
			return
		}
		if r := o.snap.Cluster.Region; r != "" {
			cat = cat.ForRegion(r)
		}
		o.cat = cat.WithSnapshot(o.snap)
	})
	return o.cat, o.catErr
}

// Simulate implements Backend.
func (o *Offline) Simulate(p *plan.Plan) (*provision.Prediction, error) {
	cat, err := o.Catalog()
	if err != nil {
		return nil, err
	}
	pred, err := provision.Simulate(provision.Input{Snapshot: o.snap, Plan: p, Catalog: cat}, provision.Options{})
	if err != nil {
		return nil, fmt.Errorf("simulating: %w", err)
	}
	return pred, nil
}

// WritePlan implements Backend: render.PlanFiles, written with the configured writer
// (default: each file atomically, directories created; nothing removed).
func (o *Offline) WritePlan(dir string, p *plan.Plan) error {
	files, err := render.PlanFiles(p, o.snap)
	if err != nil {
		return err
	}
	if o.cfg.writeFiles != nil {
		return o.cfg.writeFiles(dir, files)
	}
	return writeFiles(dir, files)
}

// Runbook implements Backend: the steps of the cutover of p, as render.Runbook renders
// them (the same step list the executor runs).
func (o *Offline) Runbook(p *plan.Plan, format string) ([]byte, error) {
	return RenderRunbook(p, o.snap, format)
}

// Cutover implements Backend: there is no cluster.
func (o *Offline) Cutover(context.Context, *plan.Plan, *CutoverControl, cutover.Sink) error {
	return ErrNoCutover
}

// Live implements Backend: there is no cluster.
func (o *Offline) Live(context.Context) (PodCounts, error) { return PodCounts{}, ErrNotLive }

// writeFiles writes files under dir, sorted, each atomically.
func writeFiles(dir string, files map[string][]byte) error {
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
