package provision

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// shaper is shapeOf in integers: both must agree for every type, EC2NodeClass and
// option that changes a node's shape.
func TestShaperMatchesShapeOf(t *testing.T) {
	emb, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	types := append(append(testTypes(), genTypes(500)...), emb.ForRegion("us-east-1").Types()...)
	types = append(types,
		snapshot.InstanceType{Name: "amd.gpu", VCPU: 16, MemoryMiB: 65536, Architectures: []string{"x86_64"}, GPUCount: 2, GPUManufacturer: "AMD"},
		snapshot.InstanceType{Name: "dl1.24xlarge", VCPU: 96, MemoryMiB: 786432, Architectures: []string{"x86_64"}, GPUCount: 8, GPUManufacturer: "Habana"},
		snapshot.InstanceType{Name: "inf2.xlarge", VCPU: 4, MemoryMiB: 16384, Architectures: []string{"x86_64"}, AcceleratorCount: 1, AcceleratorManufacturer: "AWS"},
		snapshot.InstanceType{Name: "tiny", VCPU: 1, MemoryMiB: 256, Architectures: []string{"arm64"}},
	)
	class := func(edit func(*karpenter.EC2NodeClass)) *karpenter.EC2NodeClass {
		c := nodeClass("default")
		if edit != nil {
			edit(&c)
		}
		return &c
	}
	classes := map[string]*karpenter.EC2NodeClass{
		"none":   nil,
		"al2023": class(nil),
		"al2": class(func(c *karpenter.EC2NodeClass) {
			c.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "al2@latest"}}
		}),
		"windows": class(func(c *karpenter.EC2NodeClass) { c.Spec.AMIFamily = familyWindows }),
		"bottlerocket": class(func(c *karpenter.EC2NodeClass) {
			c.Spec.AMISelectorTerms = []karpenter.AMISelectorTerm{{Alias: "bottlerocket@latest"}}
			c.Spec.Kubelet = &karpenter.Kubelet{PodsPerCore: new(int32(4))}
			c.Spec.BlockDeviceMappings = []karpenter.BlockDeviceMapping{
				{DeviceName: "/dev/xvda", EBS: &karpenter.BlockDevice{VolumeSize: "4Gi"}},
				{DeviceName: "/dev/xvdb", EBS: &karpenter.BlockDevice{VolumeSize: "100Gi"}},
			}
		}),
		"kubelet": class(func(c *karpenter.EC2NodeClass) {
			c.Spec.Kubelet = &karpenter.Kubelet{
				MaxPods: new(int32(20)), PodsPerCore: new(int32(3)),
				KubeReserved:   map[string]string{"cpu": "200m", "memory": "1Gi", "ephemeral-storage": "3Gi", "pid": "100"},
				SystemReserved: map[string]string{"cpu": "100m", "memory": "300Mi", "nvidia.com/gpu": "1"},
				EvictionHard:   map[string]string{"memory.available": "5%", "nodefs.available": "15%"},
			}
			c.Spec.BlockDeviceMappings = []karpenter.BlockDeviceMapping{{DeviceName: "/dev/xvda", RootVolume: true, EBS: &karpenter.BlockDevice{VolumeSize: "80Gi"}}}
		}),
		"fake": class(func(c *karpenter.EC2NodeClass) {
			c.Spec.Kubelet = &karpenter.Kubelet{
				KubeReserved: map[string]string{"cpu": "100m", "memory": "10Mi", "ephemeral-storage": "0"},
				EvictionHard: map[string]string{"memory.available": "0", "nodefs.available": "100%"},
			}
		}),
		"eviction": class(func(c *karpenter.EC2NodeClass) {
			c.Spec.Kubelet = &karpenter.Kubelet{EvictionHard: map[string]string{"memory.available": "100%", "nodefs.available": "2Gi"}}
		}),
	}
	options := map[string]*Options{
		"defaults": (&Options{}).withDefaults(),
		"custom": (&Options{VMMemoryOverheadPercent: 1e-9, MaxPods: func(it snapshot.InstanceType) int64 {
			return 10 * int64(it.VCPU)
		}}).withDefaults(),
	}
	rx := newResIndex()
	rx.observe(corev1.ResourceList{resNvidiaGPU: {}, resAMDGPU: {}, resNeuron: {}}) // not habana: ignored like any resource no pod asks for
	for cn, c := range classes {
		for on, o := range options {
			sh := newShaper(c, o, rx)
			for i := range types {
				it := &types[i]
				want := shapeOf(*it, c, o)
				capacity, alloc := make(resVec, rx.len()), make(resVec, rx.len())
				sh.vecs(it, capacity, alloc)
				if w := rx.vec(want.capacity); !slices.Equal(capacity, w) {
					t.Fatalf("%s/%s %s: capacity %v, shapeOf %v", cn, on, it.Name, capacity, w)
				}
				if w := rx.vec(want.allocatable); !slices.Equal(alloc, w) {
					t.Fatalf("%s/%s %s: allocatable %v, shapeOf %v", cn, on, it.Name, alloc, w)
				}
			}
		}
	}
}

// The memo of catalog.Labels trusts an entry only when every field catalog.Labels reads
// is the same: changing any field that changes the labels must change the key.
func TestLabelKeyCoversCatalogLabels(t *testing.T) {
	base := snapshot.InstanceType{
		Name: "g5.2xlarge", VCPU: 8, MemoryMiB: 32768, Architectures: []string{"x86_64"},
		GPUCount: 1, GPUManufacturer: "NVIDIA", GPUName: "A10G", GPUMemoryMiB: 24576,
		AcceleratorCount: 1, AcceleratorManufacturer: "AWS", AcceleratorName: "Inferentia",
		MaxENIs: 4, IPv4PerENI: 15, Hypervisor: "nitro", CPUManufacturer: "AMD",
		SupportedUsageClasses: []string{"on-demand"}, LocalNVMeGiB: 450, OnDemandPrice: 1, SpotPrice: 0.5,
	}
	rt := reflect.TypeOf(base)
	for i := 0; i < rt.NumField(); i++ {
		changed := base
		f := reflect.ValueOf(&changed).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "-x")
		case reflect.Int32, reflect.Int64:
			f.SetInt(f.Int() + 3)
		case reflect.Float64:
			f.SetFloat(f.Float() + 1)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"arm64"}))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", rt.Field(i).Name, f.Kind())
		}
		if reflect.DeepEqual(catalog.Labels(base), catalog.Labels(changed)) {
			continue
		}
		if labelKeyOf(&base) == labelKeyOf(&changed) {
			t.Errorf("changing %s changes catalog.Labels but not the memo key", rt.Field(i).Name)
		}
	}
}

// Memoised labels and type orders never leak from one catalog to the next: a catalog
// that reuses names with other shapes, or lists a name twice, simulates as it would in
// a fresh process.
func TestMemosFollowTheCatalog(t *testing.T) {
	fresh := func(w *world) *Prediction {
		labelMemo.mu.Lock()
		labelMemo.m = nil
		labelMemo.mu.Unlock()
		lastTypeOrder.Store(nil)
		return w.simulate(t)
	}
	mixed := func() TypeList {
		l := append(TypeList{}, testTypes()...)
		slices.Reverse(l)
		return l
	}
	swapped := func() TypeList { // same names, the arm64 and x86 shapes exchanged
		l := mixed()
		for i := range l {
			switch l[i].Name {
			case "m6g.large":
				l[i].Architectures = []string{"x86_64"}
			case "m5.large":
				l[i].Architectures = []string{"arm64"}
			}
		}
		return l
	}
	duplicated := func() TypeList { // a second m6g.large, x86: the first of a name wins
		l := mixed()
		x := l[1]
		x.Architectures = []string{"x86_64"}
		return append(l, x)
	}
	for _, cat := range []TypeList{mixed(), swapped(), duplicated(), mixed()} {
		w := newWorld()
		w.cat = cat
		w.addPods("arm", 2, "", small, func(p *snapshot.Pod) { p.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"} })
		w.addPods("x86", 3, "", small, func(p *snapshot.Pod) { p.NodeSelector = map[string]string{corev1.LabelArchStable: "amd64"} })
		memo := w.simulate(t)
		if want := fresh(w); !reflect.DeepEqual(memo, want) {
			t.Errorf("catalog %v: with memos %s, fresh %s", cat[1], fleetString(memo), fleetString(want))
		}
		if again := w.simulate(t); !reflect.DeepEqual(again, memo) {
			t.Errorf("catalog %v: second run %s, first %s", cat[1], fleetString(again), fleetString(memo))
		}
	}
}
