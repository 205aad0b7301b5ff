package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/karpshift/karpshift/migrate/cutover"
)

// groupOfNode names the source group a node belongs to ("" for none): a managed node
// group by its node label, a self-managed group by its Auto Scaling group's instances.
// Callers hold s.mu.
func (s *Sandbox) groupOfNode(n *corev1.Node) string {
	if g := n.Labels[cutover.LabelNodegroup]; g != "" && s.groups[g] != nil {
		return g
	}
	id := instanceID(n.Spec.ProviderID)
	if id == "" {
		return ""
	}
	for _, name := range sortedKeys(s.groups) {
		g := s.groups[name]
		if g.managed {
			continue
		}
		if _, ids, ok := s.AutoScaling.Group(g.asg); ok && slices.Contains(ids, id) {
			return name
		}
	}
	return ""
}

// resize is the fakes' OnResize: EKS or Auto Scaling changed a group's desired size.
// Surplus nodes are terminated (they go NodeShutdown later: cordoned and empty ones
// first, as the cutover leaves them); missing ones are launched from a node of the
// group and join NodeStartup later.
func (s *Sandbox) resize(name string, desired int32) {
	s.Kube.Lock()
	defer s.Kube.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *group
	for _, k := range sortedKeys(s.groups) {
		if c := s.groups[k]; c.managed && c.name == name || !c.managed && c.asg == name {
			g = c
		}
	}
	if g == nil {
		return
	}
	now := s.clock.Now()
	nodes := listOf(s, nodesGVR, nodeGVK, func(l *corev1.NodeList) []corev1.Node { return l.Items })
	pods := s.podsNow()
	busy := map[string]bool{}
	for _, p := range pods {
		if live(p) && !isDaemon(p) && !isMirror(p) {
			busy[p.Spec.NodeName] = true
		}
	}
	var mine []*corev1.Node
	for _, n := range nodes {
		if _, leaving := s.leaveAt[n.Name]; !leaving && s.groupOfNode(n) == g.name {
			mine = append(mine, n)
		}
	}
	slices.SortFunc(mine, func(a, b *corev1.Node) int {
		return cmp.Or(-cmp.Compare(boolInt(a.Spec.Unschedulable), boolInt(b.Spec.Unschedulable)),
			cmp.Compare(boolInt(busy[a.Name]), boolInt(busy[b.Name])), -cmp.Compare(a.Name, b.Name))
	})
	for i := 0; i < len(mine)-int(desired); i++ {
		s.leaveAt[mine[i].Name] = now.Add(s.opts.NodeShutdown)
	}
	for i := len(mine); i < int(desired); i++ {
		s.launchGroupNode(g, now)
	}
	s.dirty()
}

// launchGroupNode adds a node like the group's template, NotReady until NodeStartup.
func (s *Sandbox) launchGroupNode(g *group, now time.Time) {
	if g.template == nil {
		s.notes = append(s.notes, fmt.Sprintf("group %s grew but the snapshot has none of its nodes to copy: no node was added", g.name))
		return
	}
	g.added++
	n := g.template.DeepCopy()
	id := "i-0" + hash("instance", g.name, "added", fmt.Sprint(g.added))[:16]
	zone := n.Labels[corev1.LabelTopologyZone]
	n.Name = fmt.Sprintf("%s-%d.sandbox.internal", g.name, g.added)
	n.UID = types.UID("sandbox-node-" + hash("node", n.Name)[:12])
	n.ResourceVersion = ""
	n.CreationTimestamp = metav1.NewTime(now)
	n.Labels[corev1.LabelHostname] = n.Name
	n.Spec.ProviderID = fmt.Sprintf("aws:///%s/%s", zone, id)
	n.Spec.Unschedulable = false
	delete(n.Annotations, cutover.AnnotationCordoned)
	setNodeReady(n, false)
	if !s.create(nodesGVR, n, "") {
		return
	}
	if !g.managed {
		if _, ids, ok := s.AutoScaling.Group(g.asg); ok {
			s.AutoScaling.SetInstances(g.asg, append(ids, id))
		}
	}
	s.readyAt[n.Name] = now.Add(s.opts.NodeStartup)
}

// fleetPass terminates the nodes whose time has come: their pods go with them (their
// controllers make new ones), and a pod that still had to run there is a breach of
// the cutover's invariant "never scale a group down while one of its pods is not
// running elsewhere".
func (s *Sandbox) fleetPass(v *view, now time.Time) {
	for _, name := range sortedKeys(s.leaveAt) {
		if s.leaveAt[name].After(now) {
			continue
		}
		delete(s.leaveAt, name)
		n := v.node[name]
		if n == nil {
			continue
		}
		g := s.groupOfNode(n)
		var left []string
		keep := v.pods[:0]
		for _, p := range v.pods {
			if p.Spec.NodeName != name {
				keep = append(keep, p)
				continue
			}
			if live(p) && !isDaemon(p) && !isMirror(p) {
				left = append(left, podKey(p))
				s.w.killed(p)
			}
			delete(s.startAt, p.UID)
			_ = s.dropPod(p.Namespace, p.Name)
		}
		v.pods, v.byNS = keep, nil
		if len(left) > 0 {
			s.w.breach("node %s of group %s was terminated while %s still ran on it", name, g, strings.Join(left, ", "))
		}
		if gr := s.groups[g]; gr != nil && !gr.managed {
			if _, ids, ok := s.AutoScaling.Group(gr.asg); ok {
				id := instanceID(n.Spec.ProviderID)
				s.AutoScaling.SetInstances(gr.asg, slices.DeleteFunc(ids, func(x string) bool { return x == id }))
			}
		}
		s.remove(nodesGVR, "", name)
		delete(v.node, name)
		v.nodes = slices.DeleteFunc(v.nodes, func(x *corev1.Node) bool { return x.Name == name })
	}
}
