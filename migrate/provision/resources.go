package provision

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources are held as fixed vectors during a simulation: index 0 is CPU in millicores,
// 1 memory in bytes, 2 pods, 3 ephemeral storage in bytes, then every other resource
// name seen in the input, by name. Comparing two short int64 slices is what makes
// 100,000 pods × 500 instance types affordable.
const (
	rCPU = iota
	rMemory
	rPods
	rStorage
	numFixed
)

type resVec []int64

// resIndex maps resource names to vector positions.
type resIndex struct {
	names []corev1.ResourceName
	pos   map[corev1.ResourceName]int
}

func newResIndex() *resIndex {
	ix := &resIndex{pos: map[corev1.ResourceName]int{}}
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		ix.pos[n] = len(ix.names)
		ix.names = append(ix.names, n)
	}
	return ix
}

// observe registers the names of a resource list. Call it for every list before the
// first vector is built, so that all vectors have the same length.
func (ix *resIndex) observe(l corev1.ResourceList) {
	var extra []corev1.ResourceName
	for n := range l {
		if _, ok := ix.pos[n]; !ok {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	for _, n := range extra {
		ix.pos[n] = len(ix.names)
		ix.names = append(ix.names, n)
	}
}

func (ix *resIndex) len() int { return len(ix.names) }

// vec converts a resource list; names that were never observed are ignored.
func (ix *resIndex) vec(l corev1.ResourceList) resVec {
	v := make(resVec, len(ix.names))
	for n, q := range l {
		i, ok := ix.pos[n]
		if !ok {
			continue
		}
		v[i] = quantityValue(i, q)
	}
	return v
}

func quantityValue(i int, q resource.Quantity) int64 {
	if i == rCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// list converts back to a ResourceList (zero entries are dropped, except the fixed ones).
func (ix *resIndex) list(v resVec) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i, n := range ix.names {
		if i >= len(v) || (v[i] == 0 && i >= numFixed) {
			continue
		}
		out[n] = ix.quantity(i, v[i])
	}
	return out
}

func (ix *resIndex) quantity(i int, x int64) resource.Quantity {
	switch i {
	case rCPU:
		return *resource.NewMilliQuantity(x, resource.DecimalSI)
	case rMemory, rStorage:
		return *resource.NewQuantity(x, resource.BinarySI)
	}
	return *resource.NewQuantity(x, resource.DecimalSI)
}

func (v resVec) clone() resVec { return slices.Clone(v) }

func (v resVec) add(o resVec) {
	for i := range o {
		v[i] += o[i]
	}
}

func (v resVec) addScaled(o resVec, k int64) {
	for i := range o {
		v[i] += o[i] * k
	}
}

func (v resVec) sub(o resVec) {
	for i := range o {
		v[i] -= o[i]
	}
}

// fits reports whether used+req ≤ limit in every dimension.
func fits(used, req, limit resVec) bool {
	for i := range req {
		if req[i] == 0 {
			continue
		}
		if used[i]+req[i] > limit[i] {
			return false
		}
	}
	return true
}

// maxCopies returns how many copies of req fit in free (capped at limit); req always
// requests at least one pod, so the answer is finite.
func maxCopies(free, req resVec, limit int64) int64 {
	k := limit
	for i := range req {
		if req[i] <= 0 {
			continue
		}
		if free[i] < req[i] {
			return 0
		}
		if c := free[i] / req[i]; c < k {
			k = c
		}
	}
	return k
}

func maxVec(a, b resVec) resVec {
	out := a.clone()
	for i := range b {
		if b[i] > out[i] {
			out[i] = b[i]
		}
	}
	return out
}

// cmpRequests orders pods like Karpenter's queue: CPU, then memory, descending.
func cmpRequests(a, b resVec) int {
	return cmp.Or(cmp.Compare(b[rCPU], a[rCPU]), cmp.Compare(b[rMemory], a[rMemory]))
}
