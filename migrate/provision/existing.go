package provision

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// existingState indexes pods and nodes that stay, for topology counting.
type existingState struct {
	nodes map[string]*existingNodeInfo
	// podClasses groups staying pods by namespace and labels so a selector is evaluated
	// once per class, not once per pod.
	podClasses map[string][]*podClass
	nodeNames  []string
}

type existingNodeInfo struct {
	labels map[string]string
	reqs   requirements
	taints []corev1.Taint
}

type podClass struct {
	labels map[string]string
	nodes  map[string]int32
}

// indexPods returns ex with its pods: the pods on each node grouped by namespace and
// labels.
func indexPods(ex *existingState, podsOn map[string][]*snapshot.Pod) *existingState {
	out := &existingState{nodes: ex.nodes, nodeNames: ex.nodeNames, podClasses: map[string][]*podClass{}}
	classes := map[string]*podClass{}
	var sb strings.Builder
	for _, name := range ex.nodeNames {
		for _, p := range podsOn[name] {
			sb.Reset()
			sb.WriteString(p.Namespace)
			keys := make([]string, 0, len(p.Labels))
			for k := range p.Labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				sb.WriteString("\x00" + k + "=" + p.Labels[k])
			}
			pc, ok := classes[sb.String()]
			if !ok {
				pc = &podClass{labels: p.Labels, nodes: map[string]int32{}}
				classes[sb.String()] = pc
				out.podClasses[p.Namespace] = append(out.podClasses[p.Namespace], pc)
			}
			pc.nodes[name]++
		}
	}
	return out
}

// recordAntiAffinity records the required anti-affinity of pods already on nodes, so
// that the pods they repel keep away from them.
func (tp *topology) recordAntiAffinity(podsOn map[string][]*snapshot.Pod) {
	for _, name := range tp.existing.nodeNames {
		info := tp.existing.nodes[name]
		for _, p := range podsOn[name] {
			if p.Affinity == nil || p.Affinity.PodAntiAffinity == nil {
				continue
			}
			for _, term := range p.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
				ns := []string{p.Namespace}
				if term.NamespaceSelector != nil {
					ns = nil
				} else if len(term.Namespaces) > 0 {
					ns = sortedUnique(term.Namespaces)
				}
				t := tp.group(&groupSpec{kind: topoAntiAffinity, key: term.TopologyKey, namespaces: ns, selector: term.LabelSelector, maxSkew: math32}, true)
				d, ok := info.labels[term.TopologyKey]
				if !ok && term.TopologyKey == corev1.LabelHostname {
					d, ok = name, true
				}
				if ok {
					t.record(d, 1)
				}
			}
		}
	}
}
