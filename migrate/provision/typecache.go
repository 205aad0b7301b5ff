package provision

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
)

// Setting up a NodePool's instance types is the fixed cost of every simulation: a
// process (karpshift's TUI, the Loop, benchmarks) simulates the same catalog again and
// again, so what depends on an instance type alone is remembered across calls here.
// Nothing remembered is trusted blindly: the order is checked, the labels are found by
// name and used only when every field they derive from is the same.

// lastTypeOrder is the order sortedTypes found last time: catalogs come in the same
// order call after call, and checking an order costs far less than sorting.
var lastTypeOrder atomic.Pointer[[]int32]

// sortedTypes returns pointers to the catalog's types (read in place, never
// modified), sorted by name, keeping the first of each name.
func sortedTypes(types []snapshot.InstanceType) []*snapshot.InstanceType {
	out := make([]*snapshot.InstanceType, len(types))
	if p := lastTypeOrder.Load(); p != nil && len(*p) == len(types) {
		for i, j := range *p {
			out[i] = &types[j]
		}
		if strictlySortedByName(out) {
			return out
		}
	}
	for i := range types {
		out[i] = &types[i]
	}
	if strictlySortedByName(out) {
		return out
	}
	// Sort positions by name, then position: stable, so that compacting keeps the
	// first type of each name.
	order := make([]int32, len(types))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, c int32) int { return cmp.Or(strings.Compare(types[a].Name, types[c].Name), cmp.Compare(a, c)) })
	order = slices.CompactFunc(order, func(a, c int32) bool { return types[a].Name == types[c].Name })
	out = out[:len(order)]
	for i, j := range order {
		out[i] = &types[j]
	}
	if len(order) == len(types) {
		lastTypeOrder.Store(&order)
	}
	return out
}

func strictlySortedByName(types []*snapshot.InstanceType) bool {
	for i := 1; i < len(types); i++ {
		if types[i-1].Name >= types[i].Name {
			return false
		}
	}
	return true
}

// typeLabelSets returns each type's well-known labels. Options.Labels is called once
// per type and simulation; catalog.Labels (the default) is memoised across
// simulations. The maps are shared: read them only.
func typeLabelSets(types []*snapshot.InstanceType, o *Options) []map[string]string {
	out := make([]map[string]string, len(types))
	if o.Labels != nil {
		for i, it := range types {
			out[i] = o.Labels(*it)
		}
		return out
	}
	var missing []int
	labelMemo.mu.RLock()
	for i, it := range types {
		if e := labelMemo.m[it.Name]; e != nil && e.key == labelKeyOf(it) {
			out[i] = e.labels
		} else {
			missing = append(missing, i)
		}
	}
	labelMemo.mu.RUnlock()
	if len(missing) == 0 {
		return out
	}
	add := make([]*labelEntry, 0, len(missing))
	for _, i := range missing {
		out[i] = catalog.Labels(*types[i])
		add = append(add, &labelEntry{key: labelKeyOf(types[i]), labels: out[i]})
	}
	labelMemo.mu.Lock()
	if labelMemo.m == nil {
		labelMemo.m = map[string]*labelEntry{}
	}
	for _, e := range add {
		if _, ok := labelMemo.m[e.key.name]; ok || len(labelMemo.m) < maxMemoLabelSets {
			labelMemo.m[e.key.name] = e
		}
	}
	labelMemo.mu.Unlock()
	return out
}

// labelMemo holds catalog.Labels by type name.
var labelMemo struct {
	mu sync.RWMutex
	m  map[string]*labelEntry
}

// maxMemoLabelSets bounds the memo (EC2 has about 1,000 types; tests make up more).
const maxMemoLabelSets = 1 << 14

type labelEntry struct {
	key    labelKey
	labels map[string]string
}

// labelKey is what catalog.Labels reads of an instance type
// (TestLabelKeyCoversCatalogLabels).
type labelKey struct {
	name, arch, hypervisor, cpuManufacturer string
	gpuManufacturer, gpuName                string
	accelManufacturer, accelName            string
	vcpu, gpuCount, accelCount              int32
	memoryMiB, gpuMemoryMiB, localNVMeGiB   int64
}

func labelKeyOf(it *snapshot.InstanceType) labelKey {
	return labelKey{
		name: it.Name, arch: kubeArch(it), hypervisor: it.Hypervisor, cpuManufacturer: it.CPUManufacturer,
		gpuManufacturer: it.GPUManufacturer, gpuName: it.GPUName,
		accelManufacturer: it.AcceleratorManufacturer, accelName: it.AcceleratorName,
		vcpu: it.VCPU, gpuCount: it.GPUCount, accelCount: it.AcceleratorCount,
		memoryMiB: it.MemoryMiB, gpuMemoryMiB: it.GPUMemoryMiB, localNVMeGiB: it.LocalNVMeGiB,
	}
}

// kubeArch is catalog.KubeArch without copying the type.
func kubeArch(it *snapshot.InstanceType) string {
	for _, a := range it.Architectures {
		switch a {
		case "x86_64":
			return "amd64"
		case "arm64":
			return "arm64"
		}
	}
	return ""
}
