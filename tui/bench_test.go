package tui

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/provision"
)

// Size of the large cluster the screens must stay responsive with.
const bigGroups, bigNodes = 200, 5000

var (
	bigOnce sync.Once
	bigSnap *snapshot.Snapshot
)

// bigSnapshot scales the sample's shape up to 200 groups and 5,000 nodes: group i is a
// copy of sample group i mod 6 with 25 copies of that group's nodes (cycled) and their
// pods.
func bigSnapshot(tb testing.TB) *snapshot.Snapshot {
	tb.Helper()
	base := sampleSnapshot(tb)
	bigOnce.Do(func() {
		s := *base
		s.Groups, s.Nodes, s.Pods, s.PersistentVolumes = nil, nil, nil, nil
		nodesOf := map[string][]snapshot.Node{}
		for _, n := range base.Nodes {
			nodesOf[n.Group] = append(nodesOf[n.Group], n)
		}
		podsOn := map[string][]snapshot.Pod{}
		for _, p := range base.Pods {
			podsOn[p.NodeName] = append(podsOn[p.NodeName], p)
		}
		k := *base.Karpenter
		k.Nodes, k.HostGroups = nil, nil
		s.Karpenter = &k
		per := bigNodes / bigGroups
		for i := range bigGroups {
			bg := base.Groups[i%len(base.Groups)]
			g := bg
			g.Name = fmt.Sprintf("%s-%03d", bg.Name, i)
			if bg.Nodegroup != nil {
				ng := *bg.Nodegroup
				ng.Name = g.Name
				ng.ASGNames = []string{"eks-" + g.Name + "-asg"}
				g.Nodegroup = &ng
			}
			if bg.ASG != nil {
				a := *bg.ASG
				a.Name = "demo-" + g.Name
				a.Instances = nil
				g.ASG = &a
			}
			s.Groups = append(s.Groups, g)
			src := nodesOf[bg.Name]
			for j := range per {
				n := src[j%len(src)]
				n.Name = fmt.Sprintf("%s-%03d-%02d", n.Name, i, j)
				n.InstanceID = fmt.Sprintf("i-%03d%02d", i, j)
				n.ProviderID = "aws:///us-west-2a/" + n.InstanceID
				n.Group = g.Name
				n.Labels = maps.Clone(n.Labels)
				if _, ok := n.Labels["eks.amazonaws.com/nodegroup"]; ok {
					n.Labels["eks.amazonaws.com/nodegroup"] = g.Name
				}
				s.Nodes = append(s.Nodes, n)
				for _, p := range podsOn[src[j%len(src)].Name] {
					p.Name = fmt.Sprintf("%s-%03d-%02d", p.Name, i, j)
					p.NodeName = n.Name
					p.PVCs, p.VolumeZones = nil, nil
					s.Pods = append(s.Pods, p)
				}
				if slices.Contains(base.Karpenter.Nodes, src[j%len(src)].Name) && len(k.HostGroups) == 0 {
					k.HostGroups = []string{g.Name}
				}
				if len(k.HostGroups) > 0 && k.HostGroups[0] == g.Name && slices.Contains(base.Karpenter.Nodes, src[j%len(src)].Name) {
					k.Nodes = append(k.Nodes, n.Name)
				}
			}
		}
		for i := range s.DaemonSets {
			s.DaemonSets[i].Desired = int32(len(s.Nodes))
		}
		s.Sort()
		bigSnap = &s
	})
	return bigSnap
}

// memoBackend simulates each plan options once per process: the large cluster's
// simulation takes seconds, and every benchmark run starts a new model.
type memoBackend struct{ *fakeBackend }

var (
	memoMu   sync.Mutex
	memoSims = map[string]*provision.Prediction{}
	bigFake  *fakeBackend
)

func (b memoBackend) Simulate(p *plan.Plan) (*provision.Prediction, error) {
	key := fmt.Sprintf("%+v", p.Options)
	memoMu.Lock()
	defer memoMu.Unlock()
	if pred, ok := memoSims[key]; ok {
		return pred, nil
	}
	pred, err := b.fakeBackend.Simulate(p)
	if err == nil {
		memoSims[key] = pred
	}
	return pred, err
}

// bigHarness is a model over the large cluster with its plan and simulation done.
func bigHarness(b *testing.B) *harness {
	b.Helper()
	s := bigSnapshot(b)
	if len(s.Groups) != bigGroups || len(s.Nodes) != bigNodes {
		b.Fatalf("%d groups, %d nodes", len(s.Groups), len(s.Nodes))
	}
	memoMu.Lock()
	if bigFake == nil {
		bigFake = newFake(s)
	}
	f := bigFake
	memoMu.Unlock()
	start := time.Now()
	h := newHarness(b, memoBackend{f})
	b.Logf("%d groups, %d nodes, %d pods: planned and simulated in %s", len(s.Groups), len(s.Nodes), len(s.Pods), time.Since(start).Round(time.Millisecond))
	return h
}

// benchKeys measures Update with each key in turn followed by View, on one screen.
func benchKeys(b *testing.B, screen string, keys ...string) {
	h := bigHarness(b)
	h.key(screen)
	msgs := make([]tea.KeyMsg, len(keys))
	for i, k := range keys {
		msgs[i] = keyMsg(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.m.Update(msgs[i%len(msgs)])
		_ = h.m.View()
	}
}

func BenchmarkInventoryView200Groups5000Nodes(b *testing.B) {
	benchKeys(b, "1", "down", "down", "up", "pgdown", "home")
}

func BenchmarkPlanView200Groups5000Nodes(b *testing.B) {
	benchKeys(b, "2", "down", "pgdown", "v", "down", "v")
}

func BenchmarkSimulationView200Groups5000Nodes(b *testing.B) {
	benchKeys(b, "3", "down", "pgdown", "right", "left", "home")
}

func BenchmarkSummaryView200Groups5000Nodes(b *testing.B) {
	benchKeys(b, "5", "down", "down", "end", "home")
}

// BenchmarkCutoverFeed200Groups5000Nodes measures a batch of 64 executor events going
// through Update, then View.
func BenchmarkCutoverFeed200Groups5000Nodes(b *testing.B) {
	h := bigHarness(b)
	m := h.m
	h.key("4")
	m.cut.reset(m.d.plan)
	ctl := NewCutoverControl(m.ctx, 1)
	m.cut.ctl, m.cut.state = ctl, cutRunning
	groups := migrationOrder(m.d.plan)
	items := make([]feedItem, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		g := groups[i%len(groups)]
		for j := range items {
			e := cutover.Event{Type: cutover.PodEvicted, Step: "group/" + g + "/drain", Group: g, Node: fmt.Sprintf("n-%d", j%8), Pod: fmt.Sprintf("ns/p-%d-%d", i, j), Message: "evicted"}
			if j%8 == 7 {
				e.Type = cutover.NodeDrained
			}
			items[j] = feedItem{event: &e}
		}
		m.cut.feed(m, CutoverFeedMsg{ctl: ctl, items: items})
		_ = m.View()
	}
}

// BenchmarkReplan200Groups5000Nodes measures a plan toggle: the key, the translation
// of the large cluster in the backend, and the new plan going through Update (the
// simulation that follows runs in the background and is not measured).
func BenchmarkReplan200Groups5000Nodes(b *testing.B) {
	h := bigHarness(b)
	m := h.m
	h.key("2")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, cmd := m.Update(keyMsg("f"))
		msg := cmd()
		m.Update(msg)
		_ = m.View()
	}
}
