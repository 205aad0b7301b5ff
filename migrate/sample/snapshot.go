package sample

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/karpshift/karpshift/inventory/autoscaler"
	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/catalog"
)

// caArgs is the sample Cluster Autoscaler's command line (Helm chart style).
var caArgs = []string{
	"./cluster-autoscaler",
	"--cloud-provider=aws",
	"--namespace=kube-system",
	"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + ClusterName,
	"--expander=priority,least-waste",
	"--balance-similar-node-groups",
	"--skip-nodes-with-system-pods=false",
	"--scale-down-unneeded-time=10m",
	"--scale-down-utilization-threshold=0.5",
}

const caPriorities = `100:
  - .*-system-.*
50:
  - .*-spot-x86-.*
30:
  - .*-graviton-.*
20:
  - .*-general-.*
10:
  - .*-gpu-.*
5:
  - ^demo-batch-asg$
`

// daemonSets run on every node (they tolerate every taint).
var daemonSets = []struct {
	ns, name string
	cpu, mem int64 // milli, Mi
}{
	{"kube-system", "aws-node", 25, 64},
	{"kube-system", "kube-proxy", 100, 128},
	{"kube-system", "ebs-csi-node", 30, 96},
	{"logging", "fluent-bit", 100, 200},
}

// Snapshot returns the embedded sample cluster: 6 groups (a system group hosting
// Karpenter, general on-demand, spot, Graviton, GPU and a self-managed ASG with Cluster
// Autoscaler tags), 80 nodes and about 1,850 pods (1,530 outside DaemonSets) of 47 workloads with PDBs, topology
// spreads, node selectors and zonal volumes. It is the same on every call.
func Snapshot() (*snapshot.Snapshot, error) {
	cat, err := catalog.Embedded()
	if err != nil {
		return nil, err
	}
	cat = cat.ForRegion(Region)
	types, err := instanceTypes(cat)
	if err != nil {
		return nil, err
	}
	flags, err := autoscaler.ParseArgs(caArgs)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	prios, err := autoscaler.ParsePriorities(caPriorities)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}

	nodes, byGroup := buildNodes(cat)
	s := &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Metadata: snapshot.Meta{Source: "demo", ToolVersion: "sample"},
		Cluster: snapshot.Cluster{
			Name: ClusterName, ARN: fmt.Sprintf("arn:aws:eks:%s:%s:cluster/%s", Region, accountID, ClusterName),
			Region: Region, AccountID: accountID, Version: k8sVersion, Status: "ACTIVE", VpcID: "vpc-0demo",
			Endpoint: "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com", SubnetIDs: subnetIDs(),
			ClusterSecurityGroupID: clusterSG, AuthenticationMode: "API_AND_CONFIG_MAP",
			OIDCIssuer: "https://oidc.eks.us-west-2.amazonaws.com/id/DEMO0123456789",
		},
		Groups:          buildGroups(byGroup),
		LaunchTemplates: launchTemplates(),
		Subnets:         slices.Clone(subnets),
		InstanceTypes:   types,
		Autoscaler: &snapshot.Autoscaler{
			Namespace: "kube-system", Deployment: "cluster-autoscaler", Container: "cluster-autoscaler",
			Image: "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0", Version: "v1.33.0",
			Replicas: 1, ReadyReplicas: 1, Args: caArgs, Flags: flags,
			Priorities: prios, PrioritiesFound: true,
		},
		Karpenter: &snapshot.Karpenter{
			Installed: true, Namespace: "kube-system", Deployment: "karpenter", Version: "1.6.3",
			Replicas: 2, ReadyReplicas: 2, InterruptionQueue: ClusterName, ClusterName: ClusterName,
			CRDs: []string{"ec2nodeclasses.karpenter.k8s.aws@v1", "nodeclaims.karpenter.sh@v1", "nodepools.karpenter.sh@v1"},
		},
		AWSAuth: &snapshot.AWSAuth{MapRoles: []snapshot.RoleMapping{{
			RoleARN: nodeRole, Username: "system:node:{{EC2PrivateDNSName}}", Groups: []string{"system:bootstrappers", "system:nodes"},
		}}},
	}
	for _, d := range daemonSets {
		s.DaemonSets = append(s.DaemonSets, snapshot.DaemonSet{
			Namespace: d.ns, Name: d.name, Requests: resources(d.cpu, d.mem),
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, Desired: int32(len(nodes)),
		})
	}
	p := newPlacer(nodes)
	for _, n := range nodes {
		for _, d := range daemonSets {
			p.bind(n.Name, resources(d.cpu, d.mem))
			s.Pods = append(s.Pods, snapshot.Pod{
				Namespace: d.ns, Name: d.name + "-" + hash("ds", d.name, n.Name)[:5], NodeName: n.Name, Phase: "Running",
				OwnerKind: "DaemonSet", OwnerName: d.name, Workload: "DaemonSet/" + d.name, DaemonSet: true,
				Requests: resources(d.cpu, d.mem), Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			})
		}
	}
	// Karpenter and Cluster Autoscaler run on the system group.
	for i, c := range []workload{
		{ns: "kube-system", name: "karpenter", kind: "Deployment", replicas: 2, cpuMilli: 1000, memMi: 1024, where: onSystem, antiHost: true},
		{ns: "kube-system", name: "cluster-autoscaler", kind: "Deployment", replicas: 1, cpuMilli: 100, memMi: 600, where: onSystem},
	} {
		pods, err := p.place(c, byGroup)
		if err != nil {
			return nil, err
		}
		s.Pods = append(s.Pods, pods...)
		if i == 0 {
			for _, pod := range pods {
				s.Karpenter.Nodes = append(s.Karpenter.Nodes, pod.NodeName)
			}
			s.Karpenter.HostGroups = []string{"system"}
		}
	}
	for _, w := range workloads {
		pods, err := p.place(w, byGroup)
		if err != nil {
			return nil, err
		}
		s.Pods = append(s.Pods, pods...)
		if w.pdb != "" {
			s.PDBs = append(s.PDBs, pdbFor(w))
		}
		if w.volumes {
			for _, pod := range pods {
				zone := p.zoneOf[pod.NodeName]
				s.PersistentVolumes = append(s.PersistentVolumes, snapshot.PersistentVolume{
					Name: "pvc-" + hash("pv", pod.Namespace, pod.Name)[:12], Zones: []string{zone},
					ClaimNamespace: pod.Namespace, ClaimName: pod.PVCs[0], StorageClass: "gp3",
				})
			}
		}
	}
	s.Nodes = nodes
	s.Sort()
	if errs := snapshot.Validate(s); len(errs) > 0 {
		return nil, fmt.Errorf("sample snapshot is invalid: %v", errs.ToAggregate())
	}
	return s, nil
}

func buildNodes(cat *catalog.Catalog) ([]snapshot.Node, map[string][]snapshot.Node) {
	var nodes []snapshot.Node
	byGroup := map[string][]snapshot.Node{}
	seq := 0
	for _, gs := range groupSpecs {
		for i := 0; i < gs.nodes; i++ {
			seq++
			zone := zones[i%len(zones)]
			typ := gs.types[i%len(gs.types)]
			it, _ := cat.Get(typ)
			maxPods := catalog.MaxPods(it)
			alloc := catalog.Allocatable(it, maxPods)
			capacity := corev1.ResourceList{
				corev1.ResourceCPU:    *resource.NewQuantity(int64(it.VCPU), resource.DecimalSI),
				corev1.ResourceMemory: *resource.NewQuantity(it.MemoryMiB<<20, resource.BinarySI),
				corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
			}
			if g, ok := alloc["nvidia.com/gpu"]; ok {
				capacity["nvidia.com/gpu"] = g
			}
			id := fmt.Sprintf("i-0%s", hash("instance", gs.name, fmt.Sprint(i))[:16])
			name := fmt.Sprintf("ip-10-0-%d-%d.%s.compute.internal", 10+i%len(zones)*10, 10+seq, Region)
			labels := catalog.Labels(it)
			for k := range labels {
				if strings.HasPrefix(k, "karpenter.k8s.aws/") {
					delete(labels, k) // CA-managed nodes carry only the standard labels
				}
			}
			labels[corev1.LabelHostname] = name
			labels[corev1.LabelTopologyZone] = zone
			labels[corev1.LabelTopologyRegion] = Region
			for k, v := range gs.labels {
				labels[k] = v
			}
			var taints []corev1.Taint
			for _, t := range gs.taints {
				taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffectNoSchedule})
			}
			if gs.managed {
				labels["eks.amazonaws.com/nodegroup"] = gs.name
				labels["eks.amazonaws.com/capacityType"] = gs.capacity
				labels["eks.amazonaws.com/nodegroup-image"] = "ami-0eks" + hash("ami", gs.amiType)[:12]
			}
			n := snapshot.Node{
				Name: name, Labels: labels, Taints: taints, ProviderID: fmt.Sprintf("aws:///%s/%s", zone, id), InstanceID: id,
				Group: gs.name, Capacity: capacity, Allocatable: alloc, Ready: true,
			}
			nodes = append(nodes, n)
			byGroup[gs.name] = append(byGroup[gs.name], n)
		}
	}
	return nodes, byGroup
}

func pdbFor(w workload) snapshot.PDB {
	p := snapshot.PDB{Namespace: w.ns, Name: w.name, Selector: labelSelector(w.labels()),
		CurrentHealthy: int32(w.replicas), ExpectedPods: int32(w.replicas)}
	switch w.pdb {
	case "1":
		p.MaxUnavailable = ptr(intstr.FromInt32(1))
		p.DesiredHealthy = int32(w.replicas - 1)
	case "50%":
		p.MinAvailable = ptr(intstr.FromString("50%"))
		p.DesiredHealthy = int32((w.replicas + 1) / 2)
	}
	p.DisruptionsAllowed = max(0, p.CurrentHealthy-p.DesiredHealthy)
	return p
}

func labelSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}

func resources(cpuMilli, memMi int64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(memMi<<20, resource.BinarySI),
	}
}

func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

// sortNodes orders candidates for the least-allocated choice: most free CPU first.
func sortNodes(c []string, free map[string]int64) {
	slices.SortStableFunc(c, func(a, b string) int { return cmp.Or(cmp.Compare(free[b], free[a]), cmp.Compare(a, b)) })
}
