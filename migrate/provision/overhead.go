package provision

import (
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// Extended resources Karpenter's AWS provider puts on node capacity.
const (
	resNvidiaGPU = corev1.ResourceName("nvidia.com/gpu")
	resAMDGPU    = corev1.ResourceName("amd.com/gpu")
	resNeuron    = corev1.ResourceName("aws.amazon.com/neuron")
	resGaudi     = corev1.ResourceName("habana.ai/gaudi")
)

// AMI families as Karpenter names them.
const (
	familyAL2          = "AL2"
	familyAL2023       = "AL2023"
	familyBottlerocket = "Bottlerocket"
	familyWindows      = "Windows"
	familyCustom       = "Custom"
)

// amiFamily returns the EC2NodeClass's AMI family: spec.amiFamily, else inferred from
// the alias (al2023@latest → AL2023), else AL2023.
func amiFamily(c *karpenter.EC2NodeClass) string {
	if c == nil {
		return familyAL2023
	}
	if c.Spec.AMIFamily != "" {
		return c.Spec.AMIFamily
	}
	for _, t := range c.Spec.AMISelectorTerms {
		alias, _, _ := strings.Cut(strings.ToLower(t.Alias), "@")
		switch {
		case alias == "al2":
			return familyAL2
		case alias == "al2023":
			return familyAL2023
		case alias == "bottlerocket":
			return familyBottlerocket
		case strings.HasPrefix(alias, "windows"):
			return familyWindows
		}
	}
	return familyAL2023
}

// nodeShape is what one instance type offers under one EC2NodeClass.
type nodeShape struct {
	capacity    corev1.ResourceList
	allocatable corev1.ResourceList
}

// shapeOf computes capacity and allocatable as karpenter-provider-aws does
// (pkg/providers/instancetype/types.go): memory minus the VM overhead (and 64 MiB of
// CMA on Graviton), ENI-limited (or kubelet maxPods / podsPerCore) pods, kube-reserved
// CPU in tiers and memory 11 MiB per pod + 255 MiB, eviction threshold 100 MiB and 10%
// of ephemeral storage, each overridable by the EC2NodeClass kubelet block.
func shapeOf(it snapshot.InstanceType, class *karpenter.EC2NodeClass, o *Options) nodeShape {
	family := amiFamily(class)
	var kubelet *karpenter.Kubelet
	if class != nil {
		kubelet = class.Spec.Kubelet
	}

	memMiB := it.MemoryMiB
	if len(it.Architectures) > 0 && it.Architectures[0] == "arm64" {
		memMiB -= 64
	}
	memBytes := memMiB << 20
	overheadMiB := int64(math.Ceil(float64(memBytes) * o.VMMemoryOverheadPercent / 1024 / 1024))
	memBytes -= overheadMiB << 20

	eniPods := o.maxPods(it)
	pods := eniPods
	if kubelet != nil && kubelet.MaxPods != nil {
		pods = int64(*kubelet.MaxPods)
	}
	if kubelet != nil && kubelet.PodsPerCore != nil && *kubelet.PodsPerCore > 0 && family != familyBottlerocket {
		pods = min(pods, int64(*kubelet.PodsPerCore)*int64(it.VCPU))
	}
	storage := ephemeralStorage(class, family)

	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(it.VCPU), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(memBytes, resource.BinarySI),
		corev1.ResourceEphemeralStorage: storage,
		corev1.ResourcePods:             *resource.NewQuantity(pods, resource.DecimalSI),
	}
	if it.GPUCount > 0 {
		name := resNvidiaGPU
		switch strings.ToLower(it.GPUManufacturer) {
		case "amd":
			name = resAMDGPU
		case "habana":
			name = resGaudi
		}
		capacity[name] = *resource.NewQuantity(int64(it.GPUCount), resource.DecimalSI)
	}
	if it.AcceleratorCount > 0 && (it.AcceleratorManufacturer == "" || strings.EqualFold(it.AcceleratorManufacturer, "aws")) {
		capacity[resNeuron] = *resource.NewQuantity(int64(it.AcceleratorCount), resource.DecimalSI)
	}

	// kube-reserved memory uses the ENI-limited density on AL2/AL2023 even when maxPods
	// is overridden (UsesENILimitedMemoryOverhead).
	memPods := pods
	if family == familyAL2 || family == familyAL2023 {
		memPods = eniPods
	}
	kubeReserved := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewMilliQuantity(reservedCPU(int64(it.VCPU)*1000), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity((11*memPods+255)<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
	}
	var systemReserved corev1.ResourceList
	eviction := corev1.ResourceList{
		corev1.ResourceMemory:           resource.MustParse("100Mi"),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(math.Ceil(float64(storage.Value())/100*10)), resource.BinarySI),
	}
	if kubelet != nil {
		overrideList(kubeReserved, kubelet.KubeReserved)
		systemReserved = corev1.ResourceList{}
		overrideList(systemReserved, kubelet.SystemReserved)
		if v, ok := kubelet.EvictionHard["memory.available"]; ok {
			eviction[corev1.ResourceMemory] = evictionSignal(capacity[corev1.ResourceMemory], v)
		}
		if v, ok := kubelet.EvictionHard["nodefs.available"]; ok {
			eviction[corev1.ResourceEphemeralStorage] = evictionSignal(storage, v)
		}
	}

	alloc := corev1.ResourceList{}
	for n, q := range capacity {
		a := q.DeepCopy()
		for _, l := range []corev1.ResourceList{kubeReserved, systemReserved, eviction} {
			if r, ok := l[n]; ok {
				a.Sub(r)
			}
		}
		if a.Sign() < 0 {
			a = *resource.NewQuantity(0, q.Format)
		}
		alloc[n] = a
	}
	return nodeShape{capacity: capacity, allocatable: alloc}
}

// shaper computes what shapeOf computes, straight into resource vectors: the
// EC2NodeClass's kubelet block, root volume and reservations are parsed once per
// NodePool, so that each instance type costs a few integer operations instead of a
// dozen resource.Quantity values. TestShaperMatchesShapeOf holds it to shapeOf.
type shaper struct {
	opts           *Options
	rx             *resIndex
	family         string
	kubeletMaxPods int64 // < 0: not set
	podsPerCore    int64 // 0: not set (or Bottlerocket, which ignores it)
	storage        int64 // root volume bytes
	// reserved sums kube-reserved (but CPU and memory when they are the per-type
	// defaults), system-reserved and the fixed eviction thresholds, in vector units.
	reserved          resVec
	defaultCPU        bool // kube-reserved CPU is the tiered default
	defaultMem        bool // kube-reserved memory is 11Mi per pod + 255Mi
	evictMemPercent   float64
	evictMemIsPercent bool
}

func newShaper(class *karpenter.EC2NodeClass, o *Options, rx *resIndex) *shaper {
	sh := &shaper{opts: o, rx: rx, family: amiFamily(class), kubeletMaxPods: -1, defaultCPU: true, defaultMem: true}
	var kubelet *karpenter.Kubelet
	if class != nil {
		kubelet = class.Spec.Kubelet
	}
	if kubelet != nil && kubelet.MaxPods != nil {
		sh.kubeletMaxPods = int64(*kubelet.MaxPods)
	}
	if kubelet != nil && kubelet.PodsPerCore != nil && *kubelet.PodsPerCore > 0 && sh.family != familyBottlerocket {
		sh.podsPerCore = int64(*kubelet.PodsPerCore)
	}
	storage := ephemeralStorage(class, sh.family)
	sh.storage = storage.Value()

	sh.reserved = make(resVec, rx.len())
	add := func(n corev1.ResourceName, q resource.Quantity) {
		if i, ok := rx.pos[n]; ok {
			sh.reserved[i] += quantityValue(i, q)
		}
	}
	kubeReserved := corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}
	systemReserved := corev1.ResourceList{}
	evictStorage := *resource.NewQuantity(int64(math.Ceil(float64(sh.storage)/100*10)), resource.BinarySI)
	evictMem := resource.MustParse("100Mi")
	if kubelet != nil {
		overrideList(kubeReserved, kubelet.KubeReserved)
		overrideList(systemReserved, kubelet.SystemReserved)
		if v, ok := kubelet.EvictionHard["memory.available"]; ok {
			if strings.HasSuffix(v, "%") {
				p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
				if err != nil || p == 100 {
					p = 0
				}
				sh.evictMemIsPercent, sh.evictMemPercent = true, p
				evictMem = resource.Quantity{}
			} else {
				evictMem = evictionSignal(resource.Quantity{}, v)
			}
		}
		if v, ok := kubelet.EvictionHard["nodefs.available"]; ok {
			evictStorage = evictionSignal(storage, v)
		}
	}
	for n, q := range kubeReserved {
		switch n {
		case corev1.ResourceCPU:
			sh.defaultCPU = false
		case corev1.ResourceMemory:
			sh.defaultMem = false
		}
		add(n, q)
	}
	for n, q := range systemReserved {
		add(n, q)
	}
	add(corev1.ResourceMemory, evictMem)
	add(corev1.ResourceEphemeralStorage, evictStorage)
	return sh
}

// vecs writes the capacity and allocatable of it into capacity and alloc (each
// rx.len() long, zeroed).
func (sh *shaper) vecs(it *snapshot.InstanceType, capacity, alloc resVec) {
	memMiB := it.MemoryMiB
	if len(it.Architectures) > 0 && it.Architectures[0] == "arm64" {
		memMiB -= 64
	}
	memBytes := memMiB << 20
	overheadMiB := int64(math.Ceil(float64(memBytes) * sh.opts.VMMemoryOverheadPercent / 1024 / 1024))
	memBytes -= overheadMiB << 20

	eniPods := sh.opts.maxPods(*it)
	pods := eniPods
	if sh.kubeletMaxPods >= 0 {
		pods = sh.kubeletMaxPods
	}
	if sh.podsPerCore > 0 {
		pods = min(pods, sh.podsPerCore*int64(it.VCPU))
	}
	capacity[rCPU] = int64(it.VCPU) * 1000
	capacity[rMemory] = memBytes
	capacity[rStorage] = sh.storage
	capacity[rPods] = pods
	if it.GPUCount > 0 {
		name := resNvidiaGPU
		switch strings.ToLower(it.GPUManufacturer) {
		case "amd":
			name = resAMDGPU
		case "habana":
			name = resGaudi
		}
		if i, ok := sh.rx.pos[name]; ok {
			capacity[i] = int64(it.GPUCount)
		}
	}
	if it.AcceleratorCount > 0 && (it.AcceleratorManufacturer == "" || strings.EqualFold(it.AcceleratorManufacturer, "aws")) {
		if i, ok := sh.rx.pos[resNeuron]; ok {
			capacity[i] = int64(it.AcceleratorCount)
		}
	}

	copy(alloc, capacity)
	for i, r := range sh.reserved {
		alloc[i] -= r
	}
	if sh.defaultCPU {
		alloc[rCPU] -= reservedCPU(int64(it.VCPU) * 1000)
	}
	if sh.defaultMem {
		// kube-reserved memory uses the ENI-limited density on AL2/AL2023 even when
		// maxPods is overridden (UsesENILimitedMemoryOverhead).
		memPods := pods
		if sh.family == familyAL2 || sh.family == familyAL2023 {
			memPods = eniPods
		}
		alloc[rMemory] -= (11*memPods + 255) << 20
	}
	if sh.evictMemIsPercent {
		alloc[rMemory] -= int64(math.Ceil(float64(memBytes) / 100 * sh.evictMemPercent))
	}
	for i := range alloc {
		if capacity[i] == 0 && alloc[i] != 0 && i >= numFixed {
			alloc[i] = 0 // a reservation of a resource the type does not have
		}
		alloc[i] = max(alloc[i], 0)
	}
}

// reservedCPU is the kube-reserved CPU in millicores: 6% of the first core, 1% of the
// second, 0.5% of the next two, 0.25% of the rest.
func reservedCPU(milli int64) int64 {
	var total int64
	for _, r := range []struct {
		start, end int64
		pct        float64
	}{{0, 1000, 0.06}, {1000, 2000, 0.01}, {2000, 4000, 0.005}, {4000, 1 << 31, 0.0025}} {
		if milli < r.start {
			break
		}
		span := r.end - r.start
		if milli < r.end {
			span = milli - r.start
		}
		total += int64(float64(span) * r.pct)
	}
	return total
}

func ephemeralStorage(class *karpenter.EC2NodeClass, family string) resource.Quantity {
	if class != nil {
		var chosen *karpenter.BlockDeviceMapping
		for i := range class.Spec.BlockDeviceMappings {
			m := &class.Spec.BlockDeviceMappings[i]
			if m.RootVolume {
				chosen = m
			}
		}
		if chosen == nil && len(class.Spec.BlockDeviceMappings) > 0 {
			// Karpenter uses the last mapping when none is marked as the root volume
			// (for Bottlerocket that is the data volume).
			chosen = &class.Spec.BlockDeviceMappings[len(class.Spec.BlockDeviceMappings)-1]
		}
		if chosen != nil && chosen.EBS != nil && chosen.EBS.VolumeSize != "" {
			if q, err := resource.ParseQuantity(chosen.EBS.VolumeSize); err == nil {
				return q
			}
		}
	}
	if family == familyWindows {
		return resource.MustParse("50Gi")
	}
	return resource.MustParse("20Gi")
}

func overrideList(dst corev1.ResourceList, src map[string]string) {
	for k, v := range src {
		if q, err := resource.ParseQuantity(v); err == nil {
			dst[corev1.ResourceName(k)] = q
		}
	}
}

// evictionSignal turns "10%" (of capacity) or a quantity into a quantity; 100% means
// disabled, as in the kubelet.
func evictionSignal(capacity resource.Quantity, v string) resource.Quantity {
	if strings.HasSuffix(v, "%") {
		p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil || p == 100 {
			p = 0
		}
		return *resource.NewQuantity(int64(math.Ceil(capacity.AsApproximateFloat64()/100*p)), resource.BinarySI)
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return resource.Quantity{}
	}
	return q
}
