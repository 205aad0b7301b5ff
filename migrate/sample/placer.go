package sample

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// placer binds the sample's pods to its nodes the way a least-allocated scheduler
// would, so that the snapshot is a cluster that could really exist.
type placer struct {
	freeCPU, freeMem, freePods map[string]int64
	freeGPU                    map[string]int64
	zoneOf                     map[string]string
	hosts                      map[string]map[string]bool // workload → nodes hosting it
}

func newPlacer(nodes []snapshot.Node) *placer {
	p := &placer{freeCPU: map[string]int64{}, freeMem: map[string]int64{}, freePods: map[string]int64{},
		freeGPU: map[string]int64{}, zoneOf: map[string]string{}, hosts: map[string]map[string]bool{}}
	for _, n := range nodes {
		p.freeCPU[n.Name] = n.Allocatable.Cpu().MilliValue()
		p.freeMem[n.Name] = n.Allocatable.Memory().Value()
		p.freePods[n.Name] = n.Allocatable.Pods().Value()
		g := n.Allocatable["nvidia.com/gpu"]
		p.freeGPU[n.Name] = g.Value()
		p.zoneOf[n.Name] = n.Labels[corev1.LabelTopologyZone]
	}
	return p
}

func (p *placer) fits(node string, r corev1.ResourceList) bool {
	g := r["nvidia.com/gpu"]
	return p.freeCPU[node] >= r.Cpu().MilliValue() && p.freeMem[node] >= r.Memory().Value() &&
		p.freePods[node] >= 1 && p.freeGPU[node] >= g.Value()
}

func (p *placer) bind(node string, r corev1.ResourceList) {
	g := r["nvidia.com/gpu"]
	p.freeCPU[node] -= r.Cpu().MilliValue()
	p.freeMem[node] -= r.Memory().Value()
	p.freePods[node]--
	p.freeGPU[node] -= g.Value()
}

// place creates and binds the workload's pods. Zonal constraints (spread, volumes)
// rotate replicas over the zones; hostname anti-affinity keeps one per node.
func (p *placer) place(w workload, byGroup map[string][]snapshot.Node) ([]snapshot.Pod, error) {
	var candidates []string
	for _, g := range w.groupsFor() {
		for _, n := range byGroup[g] {
			candidates = append(candidates, n.Name)
		}
	}
	key := w.ns + "/" + w.name
	if p.hosts[key] == nil {
		p.hosts[key] = map[string]bool{}
	}
	sel, tol, aff, tsc := w.podSpecParts()
	owner, ownerName, workloadRef := "ReplicaSet", w.name+"-"+hash("rs", w.ns, w.name)[:10], "Deployment/"+w.name
	if w.kind == "StatefulSet" {
		owner, ownerName, workloadRef = "StatefulSet", w.name, "StatefulSet/"+w.name
	}
	var pods []snapshot.Pod
	req := w.requests()
	for i := 0; i < w.replicas; i++ {
		zone := ""
		if w.zoneSpread != "" || w.volumes {
			zone = zones[i%len(zones)]
		}
		sortNodes(candidates, p.freeCPU)
		chosen := ""
		for _, n := range candidates {
			if (zone != "" && p.zoneOf[n] != zone) || (w.antiHost && p.hosts[key][n]) || !p.fits(n, req) {
				continue
			}
			chosen = n
			break
		}
		if chosen == "" {
			return nil, fmt.Errorf("sample: no room for replica %d of %s (generator bug)", i, key)
		}
		p.bind(chosen, req)
		p.hosts[key][chosen] = true
		pod := snapshot.Pod{
			Namespace: w.ns, Name: podName(w, i), NodeName: chosen, Phase: "Running",
			OwnerKind: owner, OwnerName: ownerName, Workload: workloadRef, Labels: w.labels(),
			Requests: req, NodeSelector: sel, Tolerations: tol, Affinity: aff, TopologySpreadConstraints: tsc,
		}
		if w.volumes {
			pod.PVCs = []string{fmt.Sprintf("data-%s-%d", w.name, i)}
			pod.VolumeZones = []string{p.zoneOf[chosen]}
		}
		if w.safeToEvict != "" {
			pod.Annotations = map[string]string{snapshot.AnnotationSafeToEvict: w.safeToEvict}
		}
		if w.ns == "kube-system" {
			pod.PriorityClassName = "system-cluster-critical"
			pod.Priority = ptr(int32(2000000000))
		}
		pods = append(pods, pod)
	}
	return pods, nil
}
