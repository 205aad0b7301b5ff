package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Rescan inventories the sandbox as `karpshift inventory` inventories a cluster: the
// snapshot it was built from, with the groups' live sizes and instances (groups gone
// are left out), Cluster Autoscaler's live replicas, and the nodes, pods and
// PodDisruptionBudgets as they are now.
func (s *Sandbox) Rescan(context.Context) (*snapshot.Snapshot, error) {
	out, err := s.snap.DeepCopy()
	if err != nil {
		return nil, fmt.Errorf("copying the snapshot: %w", err)
	}
	var groups []snapshot.Group
	for _, g := range out.Groups {
		fg := s.groups[g.Name]
		if fg == nil {
			continue
		}
		if fg.managed {
			live, ok := s.EKS.Nodegroup(g.Name)
			if !ok {
				continue
			}
			g.Nodegroup.Scaling = snapshot.ScalingConfig{MinSize: live.Min, MaxSize: live.Max, DesiredSize: live.Desired}
			if g.ASG != nil {
				g.ASG.MinSize, g.ASG.MaxSize, g.ASG.DesiredCapacity = live.Min, live.Max, live.Desired
			}
		} else {
			live, ids, ok := s.AutoScaling.Group(fg.asg)
			if !ok {
				continue
			}
			if g.ASG == nil {
				g.ASG = &snapshot.AutoScalingGroup{Name: fg.asg}
			}
			g.ASG.MinSize, g.ASG.MaxSize, g.ASG.DesiredCapacity = live.Min, live.Max, live.Desired
			var inst []snapshot.ASGInstance
			for _, id := range ids {
				i := slices.IndexFunc(g.ASG.Instances, func(x snapshot.ASGInstance) bool { return x.ID == id })
				if i >= 0 {
					inst = append(inst, g.ASG.Instances[i])
				} else {
					inst = append(inst, snapshot.ASGInstance{ID: id, LifecycleState: "InService", HealthStatus: "Healthy"})
				}
			}
			g.ASG.Instances = inst
		}
		groups = append(groups, g)
	}
	out.Groups = groups

	// The view's objects are the controllers' own: convert them under the locks.
	s.Kube.Lock()
	defer s.Kube.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.view()
	out.Nodes = out.Nodes[:0]
	for _, n := range v.nodes {
		out.Nodes = append(out.Nodes, s.snapNode(n))
	}

	rsOwner := map[string]string{}
	for _, r := range v.rs {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.Kind == "Deployment" {
			rsOwner[r.Namespace+"/"+r.Name] = ref.Name
		}
	}
	out.Pods = out.Pods[:0]
	for _, p := range v.pods {
		out.Pods = append(out.Pods, snapPod(p, v, rsOwner))
	}
	out.PDBs = out.PDBs[:0]
	for _, pdb := range v.pdbs {
		out.PDBs = append(out.PDBs, snapshot.PDB{
			Namespace: pdb.Namespace, Name: pdb.Name, Selector: pdb.Spec.Selector.DeepCopy(), MinAvailable: pdb.Spec.MinAvailable, MaxUnavailable: pdb.Spec.MaxUnavailable,
			CurrentHealthy: pdb.Status.CurrentHealthy, DesiredHealthy: pdb.Status.DesiredHealthy, ExpectedPods: pdb.Status.ExpectedPods, DisruptionsAllowed: pdb.Status.DisruptionsAllowed,
		})
	}
	if a := out.Autoscaler; a != nil {
		if d := findDeployment(v.deploy, a.Namespace, a.Deployment); d != nil {
			a.Replicas, a.ReadyReplicas = ptr.Deref(d.Spec.Replicas, 1), d.Status.ReadyReplicas
		}
	}
	out.Metadata.Source = "sandbox"
	out.Sort()
	return out, nil
}

func findDeployment(ds []*appsv1.Deployment, ns, name string) *appsv1.Deployment {
	for _, d := range ds {
		if d.Namespace == ns && d.Name == name {
			return d
		}
	}
	return nil
}

// snapNode is a node as the inventory records it (a copy: the snapshot shares nothing
// with the controllers' objects). Callers hold s.mu.
func (s *Sandbox) snapNode(n *corev1.Node) snapshot.Node {
	n = n.DeepCopy()
	return snapshot.Node{
		Name: n.Name, Labels: n.Labels, Taints: n.Spec.Taints, ProviderID: n.Spec.ProviderID, InstanceID: instanceID(n.Spec.ProviderID),
		Group: s.groupOfNode(n), Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable,
		Unschedulable: n.Spec.Unschedulable, Ready: nodeReady(n), Fargate: n.Labels["eks.amazonaws.com/compute-type"] == "fargate",
	}
}

// snapPod is a pod as the inventory records it (a copy).
func snapPod(p *corev1.Pod, v *view, rsOwner map[string]string) snapshot.Pod {
	p = p.DeepCopy()
	sp := snapshot.Pod{
		Namespace: p.Namespace, Name: p.Name, NodeName: p.Spec.NodeName, Phase: string(p.Status.Phase),
		Labels: p.Labels, Annotations: p.Annotations, PriorityClassName: p.Spec.PriorityClassName, Priority: p.Spec.Priority,
		NodeSelector: p.Spec.NodeSelector, Affinity: p.Spec.Affinity, Tolerations: p.Spec.Tolerations,
		TopologySpreadConstraints: p.Spec.TopologySpreadConstraints, VolumeZones: v.claimZones(p),
		Requests: corev1.ResourceList{},
	}
	for n, q := range requests(p) {
		if n != corev1.ResourcePods && q > 0 {
			sp.Requests[n] = *resourceMilli(n, q)
		}
	}
	for _, vol := range p.Spec.Volumes {
		switch {
		case vol.PersistentVolumeClaim != nil:
			sp.PVCs = append(sp.PVCs, vol.PersistentVolumeClaim.ClaimName)
		case vol.EmptyDir != nil:
			sp.EmptyDir = true
		case vol.HostPath != nil:
			sp.HostPath = true
		}
	}
	if ref := controllerOf(p); ref != nil {
		sp.OwnerKind, sp.OwnerName = ref.Kind, ref.Name
		sp.Workload = ref.Kind + "/" + ref.Name
		if d, ok := rsOwner[p.Namespace+"/"+ref.Name]; ok && ref.Kind == "ReplicaSet" {
			sp.Workload = "Deployment/" + d
		}
		sp.DaemonSet = ref.Kind == "DaemonSet"
		sp.Mirror = ref.Kind == "Node"
	}
	sp.Mirror = sp.Mirror || isMirror(p)
	if strings.HasPrefix(sp.Workload, "Node/") {
		sp.Workload = ""
	}
	return sp
}
