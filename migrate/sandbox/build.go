package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/cutover/fakeaws"
)

// group is a source group as the fleet plays it.
type group struct {
	name    string
	managed bool
	// asg is the Auto Scaling group the fakes know a self-managed group by.
	asg string
	// template is a node of the group, cloned when the group grows.
	template *corev1.Node
	added    int
}

// builder collects the objects of the new cluster.
type builder struct {
	s    *Sandbox
	objs []runtime.Object
	// nodes are the nodes built, by name.
	nodes map[string]*corev1.Node
	// groupOf maps node names to their group.
	groupOf map[string]string
	// ns are the namespaces seen.
	ns map[string]bool
}

func (b *builder) add(o runtime.Object) { b.objs = append(b.objs, o) }

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

func (s *Sandbox) build() ([]runtime.Object, error) {
	b := &builder{s: s, nodes: map[string]*corev1.Node{}, groupOf: map[string]string{}, ns: map[string]bool{"kube-system": true, "default": true}}
	if err := b.groupsAndNodes(); err != nil {
		return nil, err
	}
	b.volumes()
	b.daemonSets()
	if err := b.workloads(); err != nil {
		return nil, err
	}
	b.pdbs()
	b.autoscaler()
	b.karpenter()
	b.auth()
	for _, n := range sortedKeys(b.ns) {
		b.add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n, UID: s.uid("ns")}})
	}
	return b.objs, nil
}

// groupsAndNodes seeds the AWS fakes with the snapshot's groups and builds the nodes.
func (b *builder) groupsAndNodes() error {
	s := b.s
	snap := s.snap
	byGroup := map[string][]string{}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		g := snap.Group(n.Group)
		node := b.node(n, g)
		if _, dup := b.nodes[node.Name]; dup {
			return fmt.Errorf("sandbox: node %s appears twice in the snapshot", node.Name)
		}
		b.nodes[node.Name] = node
		b.add(node)
		if g != nil {
			byGroup[g.Name] = append(byGroup[g.Name], node.Name)
			b.groupOf[node.Name] = g.Name
		}
	}
	for i := range snap.Groups {
		g := &snap.Groups[i]
		sz := fakeaws.Sizes{Min: g.MinSize(), Max: g.MaxSize(), Desired: g.DesiredSize()}
		fg := &group{name: g.Name, managed: g.Kind == snapshot.KindManaged && g.Nodegroup != nil}
		if names := byGroup[g.Name]; len(names) > 0 {
			fg.template = b.nodes[names[0]].DeepCopy()
		}
		if fg.managed {
			s.EKS.AddNodegroup(g.Name, sz)
		} else {
			fg.asg = g.Name
			if g.ASG != nil && g.ASG.Name != "" {
				fg.asg = g.ASG.Name
			}
			var ids []string
			for _, name := range byGroup[g.Name] {
				if id := instanceID(b.nodes[name].Spec.ProviderID); id != "" {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			s.AutoScaling.AddGroup(fg.asg, sz, ids...)
		}
		if int(sz.Desired) != len(byGroup[g.Name]) {
			s.note("group %s wants %d nodes and the snapshot lists %d: the sandbox starts with the %d listed", g.Name, sz.Desired, len(byGroup[g.Name]), len(byGroup[g.Name]))
		}
		s.groups[g.Name] = fg
	}
	return nil
}

// instanceID returns the EC2 instance id of a provider ID (aws:///us-west-2a/i-0abc).
func instanceID(providerID string) string {
	i := strings.LastIndexByte(providerID, '/')
	if i < 0 || !strings.HasPrefix(providerID, "aws://") {
		return ""
	}
	return providerID[i+1:]
}

func zoneOfProviderID(providerID string) string {
	p := strings.TrimPrefix(providerID, "aws:///")
	if p == providerID {
		return ""
	}
	z, _, _ := strings.Cut(p, "/")
	return z
}

// groupInstanceType is the instance type a group's nodes most likely have.
func groupInstanceType(g *snapshot.Group, s *snapshot.Snapshot, instance string) string {
	if g == nil {
		return ""
	}
	if g.ASG != nil {
		for _, in := range g.ASG.Instances {
			if in.ID == instance && in.InstanceType != "" {
				return in.InstanceType
			}
		}
		if m := g.ASG.MixedInstancesPolicy; m != nil {
			for _, o := range m.Overrides {
				if o.InstanceType != "" {
					return o.InstanceType
				}
			}
		}
	}
	if ng := g.Nodegroup; ng != nil && len(ng.InstanceTypes) > 0 {
		return ng.InstanceTypes[0]
	}
	var ref *snapshot.LaunchTemplateRef
	switch {
	case g.Nodegroup != nil && g.Nodegroup.LaunchTemplate != nil:
		ref = g.Nodegroup.LaunchTemplate
	case g.ASG != nil && g.ASG.LaunchTemplate != nil:
		ref = g.ASG.LaunchTemplate
	case g.ASG != nil && g.ASG.MixedInstancesPolicy != nil:
		ref = &g.ASG.MixedInstancesPolicy.LaunchTemplate
	}
	for _, lt := range s.LaunchTemplates {
		if ref != nil && (lt.ID == ref.ID || ref.ID == "" && lt.Name == ref.Name) && lt.InstanceType != "" {
			return lt.InstanceType
		}
	}
	return ""
}

var defaultCapacity = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("4"),
	corev1.ResourceMemory: resource.MustParse("16Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// node builds a Node from the snapshot, filling what EKS would have set and the
// snapshot did not record: the node group label, hostname, zone, instance type,
// architecture, capacity and allocatable (from the instance type, else 4 vCPU/16 GiB).
func (b *builder) node(n *snapshot.Node, g *snapshot.Group) *corev1.Node {
	s := b.s
	labels := map[string]string{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	id := n.InstanceID
	if id == "" {
		id = instanceID(n.ProviderID)
	}
	if id == "" {
		id = "i-0" + hash("instance", n.Name)[:16]
	}
	typ := labels[corev1.LabelInstanceTypeStable]
	if typ == "" {
		typ = groupInstanceType(g, s.snap, id)
	}
	it, known := s.types[typ]
	if typ != "" {
		labels[corev1.LabelInstanceTypeStable] = typ
	}
	if _, ok := labels[corev1.LabelArchStable]; !ok {
		arch := "amd64"
		if known && catalog.KubeArch(it) != "" {
			arch = catalog.KubeArch(it)
		}
		labels[corev1.LabelArchStable] = arch
	}
	if _, ok := labels[corev1.LabelOSStable]; !ok {
		labels[corev1.LabelOSStable] = "linux"
	}
	if _, ok := labels[corev1.LabelHostname]; !ok {
		labels[corev1.LabelHostname] = n.Name
	}
	zone := labels[corev1.LabelTopologyZone]
	if zone == "" {
		zone = zoneOfProviderID(n.ProviderID)
	}
	if zone == "" && g != nil && g.ASG != nil {
		for _, in := range g.ASG.Instances {
			if in.ID == id {
				zone = in.AvailabilityZone
			}
		}
	}
	if zone != "" {
		labels[corev1.LabelTopologyZone] = zone
		if r := s.snap.Cluster.Region; r != "" {
			labels[corev1.LabelTopologyRegion] = r
		}
	}
	var taints []corev1.Taint
	taints = append(taints, n.Taints...)
	if g != nil && g.Nodegroup != nil {
		labels[cutover.LabelNodegroup] = g.Name
		if _, ok := labels["eks.amazonaws.com/capacityType"]; !ok && g.Nodegroup.CapacityType != "" {
			labels["eks.amazonaws.com/capacityType"] = g.Nodegroup.CapacityType
		}
		for k, v := range g.Nodegroup.Labels {
			if _, ok := labels[k]; !ok {
				labels[k] = v
			}
		}
		if len(n.Taints) == 0 {
			for _, t := range g.Nodegroup.Taints {
				taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: eksEffect(t.Effect)})
			}
		}
	}
	providerID := n.ProviderID
	if providerID == "" {
		providerID = fmt.Sprintf("aws:///%s/%s", zone, id)
	}
	capacity, alloc := n.Capacity.DeepCopy(), n.Allocatable.DeepCopy()
	switch {
	case len(alloc) > 0:
	case known:
		maxPods := catalog.MaxPods(it)
		alloc = catalog.Allocatable(it, maxPods)
		capacity = corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewQuantity(int64(it.VCPU), resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(it.MemoryMiB<<20, resource.BinarySI),
			corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
		}
		for _, r := range []corev1.ResourceName{"nvidia.com/gpu", "aws.amazon.com/neuron", "amd.com/gpu"} {
			if q, ok := alloc[r]; ok {
				capacity[r] = q
			}
		}
		s.note("nodes without capacity in the snapshot get their instance type's (e.g. %s: %s)", n.Name, typ)
	default:
		alloc = defaultCapacity.DeepCopy()
		s.note("nodes with neither capacity nor a known instance type get 4 vCPU, 16 GiB and 110 pods (e.g. %s)", n.Name)
	}
	if len(capacity) == 0 {
		capacity = alloc.DeepCopy()
	}
	if _, ok := alloc[corev1.ResourcePods]; !ok {
		alloc[corev1.ResourcePods] = resource.MustParse("110")
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, UID: types.UID("sandbox-node-" + hash("node", n.Name)[:12])},
		Spec:       corev1.NodeSpec{ProviderID: providerID, Taints: taints, Unschedulable: n.Unschedulable},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: alloc,
			NodeInfo: corev1.NodeSystemInfo{Architecture: labels[corev1.LabelArchStable], OperatingSystem: labels[corev1.LabelOSStable]},
		},
	}
	setNodeReady(node, n.Ready)
	return node
}

func eksEffect(e string) corev1.TaintEffect {
	switch e {
	case "NO_EXECUTE":
		return corev1.TaintEffectNoExecute
	case "PREFER_NO_SCHEDULE":
		return corev1.TaintEffectPreferNoSchedule
	}
	return corev1.TaintEffectNoSchedule
}

// auth makes the node roles joinable the way EKS does for managed node groups: an
// EC2_LINUX access entry when the cluster's authentication mode includes the API, an
// aws-auth mapping otherwise; plus the snapshot's own aws-auth mappings.
func (b *builder) auth() {
	s := b.s
	mode := s.snap.Cluster.AuthenticationMode
	api := mode == "API" || mode == "API_AND_CONFIG_MAP"
	var roles []snapshot.RoleMapping
	if s.snap.AWSAuth != nil {
		roles = append(roles, s.snap.AWSAuth.MapRoles...)
	}
	for _, g := range s.snap.Groups {
		if g.Nodegroup == nil || g.Nodegroup.NodeRole == "" {
			continue
		}
		if api {
			s.EKS.AccessEntries[g.Nodegroup.NodeRole] = "EC2_LINUX"
			continue
		}
		if !slices.ContainsFunc(roles, func(r snapshot.RoleMapping) bool { return r.RoleARN == g.Nodegroup.NodeRole }) {
			roles = append(roles, snapshot.RoleMapping{RoleARN: g.Nodegroup.NodeRole, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"}})
		}
	}
	if !api {
		s.EKS.ListAccessEntriesErr = &ekstypes.InvalidRequestException{Message: aws.String("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")}
	}
	if len(roles) == 0 {
		return
	}
	var y strings.Builder
	for _, r := range roles {
		fmt.Fprintf(&y, "- rolearn: %s\n", r.RoleARN)
		if r.Username != "" {
			fmt.Fprintf(&y, "  username: %q\n", r.Username)
		}
		if len(r.Groups) > 0 {
			y.WriteString("  groups:\n")
			for _, g := range r.Groups {
				fmt.Fprintf(&y, "  - %s\n", g)
			}
		}
	}
	b.add(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "aws-auth", UID: s.uid("cm")},
		Data:       map[string]string{"mapRoles": y.String()},
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
