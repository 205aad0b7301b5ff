package provision

import (
	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Catalog is the instance-type data the simulation needs. *catalog.Catalog satisfies
// it (catalog.Embedded() then ForRegion(region).WithSnapshot(s), so that types seen in
// the cluster and live prices win); tests build small ones by hand.
type Catalog interface {
	// Types returns the instance types that can be launched, with OnDemandPrice and
	// SpotPrice filled where known (a zero price is "unknown" and costs nothing).
	Types() []snapshot.InstanceType
}

// TypeList is a Catalog made of a fixed list.
type TypeList []snapshot.InstanceType

// Types implements Catalog.
func (l TypeList) Types() []snapshot.InstanceType { return l }

// Input is what a simulation reads. Nothing in it is modified.
type Input struct {
	Snapshot *snapshot.Snapshot
	Plan     *plan.Plan
	Catalog  Catalog
}

// MinValuesPolicy is Karpenter's MIN_VALUES_POLICY.
type MinValuesPolicy string

const (
	// MinValuesStrict refuses a NodeClaim whose instance types would fall below a
	// requirement's minValues (Karpenter's default).
	MinValuesStrict MinValuesPolicy = "Strict"
	// MinValuesBestEffort ignores minValues when it cannot be met.
	MinValuesBestEffort MinValuesPolicy = "BestEffort"
)

// Options tune the simulation. The zero value is Karpenter's defaults.
type Options struct {
	// MinValuesPolicy defaults to Strict.
	MinValuesPolicy MinValuesPolicy
	// IgnorePreferences drops preferred affinities and ScheduleAnyway spreads up front
	// (Karpenter's PreferencePolicy Ignore) instead of trying them first.
	IgnorePreferences bool
	// VMMemoryOverheadPercent is the share of memory Karpenter assumes the hypervisor
	// keeps (VM_MEMORY_OVERHEAD_PERCENT); 0 means Karpenter's default 0.075.
	VMMemoryOverheadPercent float64
	// Labels returns an instance type's well-known labels; nil uses catalog.Labels
	// (memoised across simulations). It is called once per type and simulation; the
	// maps it returns are read, never modified.
	Labels LabelFunc
	// MaxPods returns the ENI-limited pod density; nil uses catalog.MaxPods.
	MaxPods func(snapshot.InstanceType) int64
	// HoursPerMonth turns hourly cost into monthly; 0 means 730.
	HoursPerMonth float64
}

func (o *Options) withDefaults() *Options {
	c := *o
	if c.MinValuesPolicy == "" {
		c.MinValuesPolicy = MinValuesStrict
	}
	if c.VMMemoryOverheadPercent == 0 {
		c.VMMemoryOverheadPercent = 0.075
	}
	if c.HoursPerMonth == 0 {
		c.HoursPerMonth = 730
	}
	return &c
}

func (o *Options) maxPods(it snapshot.InstanceType) int64 {
	if o.MaxPods != nil {
		return o.MaxPods(it)
	}
	return catalog.MaxPods(it)
}

// Prediction is the outcome of a simulation. Every slice is sorted; the same input
// always gives the same Prediction.
type Prediction struct {
	// Nodes counts the new nodes per NodePool, instance type and capacity type.
	Nodes []NodeCount `json:"nodes"`
	// NewNodes lists every new node, in launch order.
	NewNodes []NewNode `json:"newNodes,omitempty"`
	// Placements says where each simulated pod lands, sorted by namespace/name.
	Placements []Placement `json:"placements,omitempty"`
	// Unschedulable lists the pods that would not schedule, sorted by namespace/name.
	Unschedulable []UnschedulablePod `json:"unschedulable"`

	// PodsSimulated counts the pods that had to move (pods of migrated groups and
	// pending pods); PodsOnExisting and PodsOnNew say where they went.
	PodsSimulated  int `json:"podsSimulated"`
	PodsOnExisting int `json:"podsOnExisting"`
	PodsOnNew      int `json:"podsOnNew"`

	// CostBeforePerHour prices every current node (migrated, kept and excluded groups,
	// Karpenter and unmanaged nodes; Fargate excluded); CostAfterPerHour the nodes that
	// stay plus the new ones. Prices come from the catalog with each node's capacity
	// type; unknown prices count as zero and are listed in Notes.
	CostBeforePerHour  float64 `json:"costBeforePerHour"`
	CostAfterPerHour   float64 `json:"costAfterPerHour"`
	CostBeforePerMonth float64 `json:"costBeforePerMonth"`
	CostAfterPerMonth  float64 `json:"costAfterPerMonth"`
	// Before and After are the fleets behind those costs.
	Before []FleetLine `json:"before"`
	After  []FleetLine `json:"after"`

	// Notes are assumptions the simulation had to make (missing subnets, prices, ...).
	Notes []string `json:"notes,omitempty"`
}

// NodeCount is a number of identical new nodes.
type NodeCount struct {
	NodePool     string `json:"nodePool"`
	InstanceType string `json:"instanceType"`
	CapacityType string `json:"capacityType"`
	Count        int    `json:"count"`
	// PricePerHour is the price of one node; CostPerHour of all Count of them.
	PricePerHour float64 `json:"pricePerHour"`
	CostPerHour  float64 `json:"costPerHour"`
}

// NewNode is one node the simulation launches.
type NewNode struct {
	Name         string `json:"name"`
	NodePool     string `json:"nodePool"`
	InstanceType string `json:"instanceType"`
	CapacityType string `json:"capacityType"`
	Zone         string `json:"zone"`
	Pods         int    `json:"pods"`
	// PricePerHour is the node's price.
	PricePerHour float64 `json:"pricePerHour"`
}

// Placement is where a pod lands: an existing node, or a new node of a NodePool.
type Placement struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Node      string `json:"node"`
	NodePool  string `json:"nodePool,omitempty"`
	Existing  bool   `json:"existing,omitempty"`
}

// UnschedulablePod is a pod that would not schedule, and why.
type UnschedulablePod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	// Group is the node group the pod runs in today ("" for pending pods).
	Group string `json:"group,omitempty"`
}

// FleetLine is a number of identical nodes of one owner.
type FleetLine struct {
	// Group is the source group (with its plan Action), or NodePool the Karpenter
	// NodePool (New for nodes the simulation launches); both empty for nodes nobody
	// manages.
	Group        string  `json:"group,omitempty"`
	Action       string  `json:"action,omitempty"`
	NodePool     string  `json:"nodePool,omitempty"`
	New          bool    `json:"new,omitempty"`
	InstanceType string  `json:"instanceType"`
	CapacityType string  `json:"capacityType"`
	Count        int     `json:"count"`
	PricePerHour float64 `json:"pricePerHour"`
	CostPerHour  float64 `json:"costPerHour"`
}
