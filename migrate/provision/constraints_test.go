package provision

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

// tcase is one hand-computed scenario: the world is edited by setup, then the new fleet
// ("pool/type/capacity×count", sorted) and the unschedulable pods (name → reason) must
// match exactly.
type tcase struct {
	name    string
	setup   func(w *world)
	fleet   string
	unsched map[string]string
	check   func(t *testing.T, p *Prediction)
}

func run(t *testing.T, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld()
			c.setup(w)
			p := w.simulate(t)
			if got := fleetString(p); got != c.fleet {
				t.Errorf("fleet\n got: %s\nwant: %s", got, c.fleet)
			}
			want := c.unsched
			if want == nil {
				want = map[string]string{}
			}
			if got := reasons(p); !maps.Equal(got, want) {
				t.Errorf("unschedulable\n got: %v\nwant: %v", got, want)
			}
			if c.check != nil {
				c.check(t, p)
			}
		})
	}
}

var small = rl("cpu", "1", "memory", "1Gi")

func setPool(reqs ...karpenter.Requirement) func(w *world) {
	return func(w *world) { w.plan.NodePools[0].Spec.Template.Spec.Requirements = reqs }
}

func onDemand() karpenter.Requirement { return req(karpenter.LabelCapacityType, "In", "on-demand") }

func TestRequirementOperators(t *testing.T) {
	one := func(edit func(*snapshot.Pod)) func(w *world) {
		return func(w *world) { w.addPods("web", 1, "", small, edit) }
	}
	both := func(pool func(*world), pod func(*world)) func(*world) {
		return func(w *world) { pool(w); pod(w) }
	}
	run(t, []tcase{
		{name: "no constraint: cheapest type (m6g.large 0.077)", setup: one(nil), fleet: "default/m6g.large/on-demand×1"},
		{name: "NodePool In instance-family", setup: both(setPool(onDemand(), req(karpenter.LabelInstanceFamily, "In", "c5")), one(nil)),
			fleet: "default/c5.large/on-demand×1"},
		{name: "NodePool NotIn arch", setup: both(setPool(onDemand(), req(corev1.LabelArchStable, "NotIn", "arm64")), one(nil)),
			fleet: "default/c5.large/on-demand×1"},
		{name: "NodePool Gt instance-cpu", setup: both(setPool(onDemand(), req(karpenter.LabelInstanceCPU, "Gt", "4")), one(nil)),
			fleet: "default/m5.2xlarge/on-demand×1"},
		{name: "NodePool Lt instance-memory", setup: both(setPool(onDemand(), req(karpenter.LabelInstanceMemory, "Lt", "8000")), one(nil)),
			fleet: "default/c5.large/on-demand×1"},
		{name: "NodePool Gt and Lt instance-cpu", setup: both(setPool(onDemand(), req(karpenter.LabelInstanceCPU, "Gt", "2"), req(karpenter.LabelInstanceCPU, "Lt", "8")), one(nil)),
			fleet: "default/m5.xlarge/on-demand×1"},
		{name: "NodePool DoesNotExist gpu-count keeps CPU types", setup: both(setPool(onDemand(), req(karpenter.LabelGPUCount, "DoesNotExist")), one(nil)),
			fleet: "default/m6g.large/on-demand×1"},
		{name: "pod nodeSelector arch", setup: one(func(p *snapshot.Pod) { p.NodeSelector = map[string]string{corev1.LabelArchStable: "amd64"} }),
			fleet: "default/c5.large/on-demand×1"},
		{name: "pod nodeSelector beta arch is normalised", setup: one(func(p *snapshot.Pod) { p.NodeSelector = map[string]string{"beta.kubernetes.io/arch": "amd64"} }),
			fleet: "default/c5.large/on-demand×1"},
		{name: "pod affinity NotIn instance-type", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpNotIn, "m6g.large", "c5.large"))
		}), fleet: "default/m5.large/on-demand×1"},
		{name: "pod affinity Exists gpu-count", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(karpenter.LabelGPUCount, corev1.NodeSelectorOpExists))
		}), fleet: "default/p3.2xlarge/on-demand×1"},
		{name: "pod affinity DoesNotExist custom label", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr("example.com/special", corev1.NodeSelectorOpDoesNotExist))
		}), fleet: "default/m6g.large/on-demand×1"},
		{name: "pod affinity Gt instance-memory", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(karpenter.LabelInstanceMemory, corev1.NodeSelectorOpGt, "20000"))
		}), fleet: "default/m5.2xlarge/on-demand×1"},
		{name: "pod affinity Lt instance-cpu", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(karpenter.LabelInstanceCPU, corev1.NodeSelectorOpLt, "4"), expr(corev1.LabelArchStable, corev1.NodeSelectorOpIn, "amd64"))
		}), fleet: "default/c5.large/on-demand×1"},
		{name: "second required term used when the first matches nothing", setup: one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, "us-west-2d"))
			p.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = append(
				p.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms,
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr(karpenter.LabelInstanceFamily, corev1.NodeSelectorOpIn, "m5")}})
		}), fleet: "default/m5.large/on-demand×1"},
		{name: "template label satisfies a custom nodeSelector", setup: func(w *world) {
			w.plan.NodePools[0].Spec.Template.Metadata = &karpenter.TemplateMeta{Labels: map[string]string{"team": "a"}}
			w.addPods("web", 1, "", small, func(p *snapshot.Pod) { p.NodeSelector = map[string]string{"team": "a"} })
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "nodeSelector on a node-group label matches no NodePool", setup: one(func(p *snapshot.Pod) {
			p.NodeSelector = map[string]string{"eks.amazonaws.com/nodegroup": "ng-a"}
		}), unsched: map[string]string{"web-000": "nodeSelector eks.amazonaws.com/nodegroup=ng-a matches no NodePool"}},
		{name: "nodeSelector zone outside the subnets", setup: one(func(p *snapshot.Pod) {
			p.NodeSelector = map[string]string{corev1.LabelTopologyZone: "us-west-2d"}
		}), unsched: map[string]string{"web-000": "nodeSelector topology.kubernetes.io/zone=us-west-2d matches no NodePool"}},
		{name: "node affinity In conflicting with the NodePool", setup: both(setPool(onDemand(), req(corev1.LabelArchStable, "In", "amd64")), one(func(p *snapshot.Pod) {
			p.Affinity = nodeAffinity(expr(corev1.LabelArchStable, corev1.NodeSelectorOpIn, "arm64"))
		})), unsched: map[string]string{"web-000": "node affinity kubernetes.io/arch In [arm64] matches no NodePool"}},
		{name: "instance type missing from the catalog", setup: one(func(p *snapshot.Pod) {
			p.NodeSelector = map[string]string{corev1.LabelInstanceTypeStable: "p4d.24xlarge"}
		}), unsched: map[string]string{"web-000": "nodeSelector node.kubernetes.io/instance-type=p4d.24xlarge matches no instance type of NodePool default"}},
	})
}

func TestTaintsAndTolerations(t *testing.T) {
	gpuTaint := karpenter.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	taintDefault := func(w *world) { w.plan.NodePools[0].Spec.Template.Spec.Taints = []karpenter.Taint{gpuTaint} }
	tol := func(tl corev1.Toleration) func(*snapshot.Pod) {
		return func(p *snapshot.Pod) { p.Tolerations = []corev1.Toleration{tl} }
	}
	twoPools := func(w *world) {
		gpu := nodePool("gpu", onDemand(), req(karpenter.LabelInstanceFamily, "In", "m5"))
		gpu.Spec.Template.Spec.Taints = []karpenter.Taint{gpuTaint}
		gpu.Spec.Weight = new(int32(100))
		w.plan.NodePools = append(w.plan.NodePools, gpu)
	}
	run(t, []tcase{
		{name: "untolerated NoSchedule taint", setup: func(w *world) { taintDefault(w); w.addPods("web", 1, "", small, nil) },
			unsched: map[string]string{"web-000": "does not tolerate taint dedicated=gpu:NoSchedule of NodePool default"}},
		{name: "Equal toleration", setup: func(w *world) {
			taintDefault(w)
			w.addPods("web", 1, "", small, tol(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}))
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "Equal toleration with the wrong value", setup: func(w *world) {
			taintDefault(w)
			w.addPods("web", 1, "", small, tol(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "cpu"}))
		}, unsched: map[string]string{"web-000": "does not tolerate taint dedicated=gpu:NoSchedule of NodePool default"}},
		{name: "Exists toleration", setup: func(w *world) {
			taintDefault(w)
			w.addPods("web", 1, "", small, tol(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}))
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "tainted pool of higher weight is skipped without toleration", setup: func(w *world) {
			twoPools(w)
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "tainted pool of higher weight is used with toleration", setup: func(w *world) {
			twoPools(w)
			w.addPods("web", 1, "", small, tol(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}))
		}, fleet: "gpu/m5.large/on-demand×1"},
		{name: "PreferNoSchedule is tolerated after relaxation", setup: func(w *world) {
			w.plan.NodePools[0].Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "soft", Effect: "PreferNoSchedule"}}
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "tainted kept node is not used", setup: func(w *world) {
			n := w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", rl("cpu", "3920m", "memory", "14162Mi", "pods", "58"), nil)
			n.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
	})
}

func spread(key string, maxSkew int32, when corev1.UnsatisfiableConstraintAction) func(*snapshot.Pod) {
	return func(p *snapshot.Pod) {
		p.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: selector(p.Labels["app"]),
		}}
	}
}

// zonesOf returns the zones of the new nodes, sorted.
func zonesOf(p *Prediction) []string {
	var out []string
	for _, n := range p.NewNodes {
		out = append(out, n.Zone)
	}
	slices.Sort(out)
	return out
}

func TestTopologySpread(t *testing.T) {
	// A kept node in us-west-2b with no room: it registers the zone as a domain, with
	// zero matching pods, while the NodePool can only launch in us-west-2a.
	fullNodeIn2b := func(w *world) {
		w.addNode("keep-full", "ng-keep", "m5.large", "us-west-2b", rl("cpu", "100m", "memory", "1Gi", "pods", "29"), nil)
		w.plan.NodePools[0].Spec.Template.Spec.Requirements = append(w.plan.NodePools[0].Spec.Template.Spec.Requirements,
			req(corev1.LabelTopologyZone, "In", "us-west-2a"))
	}
	run(t, []tcase{
		// 6 pods, maxSkew 1 over three zones: 2 per zone, one node per zone holding two
		// 1-CPU pods: m5.xlarge (3920m) is the cheapest type that takes two.
		{name: "zone spread maxSkew 1 DoNotSchedule", setup: func(w *world) {
			w.addPods("web", 6, "", small, spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule))
		}, fleet: "default/m5.xlarge/on-demand×3", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, testZones) {
				t.Errorf("zones = %v, want one node per zone", got)
			}
		}},
		// hostname maxSkew 1: one pod per node, cheapest single-pod type.
		{name: "hostname spread maxSkew 1", setup: func(w *world) {
			w.addPods("web", 3, "", small, spread(corev1.LabelHostname, 1, corev1.DoNotSchedule))
		}, fleet: "default/m6g.large/on-demand×3"},
		// hostname maxSkew 2: two pods per node.
		{name: "hostname spread maxSkew 2", setup: func(w *world) {
			w.addPods("web", 4, "", small, spread(corev1.LabelHostname, 2, corev1.DoNotSchedule))
		}, fleet: "default/m5.xlarge/on-demand×2"},
		// The first pod goes to us-west-2a (skew 1-0); the second would make it 2-0.
		{name: "zone spread DoNotSchedule cannot be met", setup: func(w *world) {
			fullNodeIn2b(w)
			w.addPods("web", 2, "", small, spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule))
		}, fleet: "default/m6g.large/on-demand×1", unsched: map[string]string{
			"web-001": "topology spread on topology.kubernetes.io/zone (maxSkew 1, DoNotSchedule) cannot be satisfied (NodePool default)",
		}},
		// ScheduleAnyway is relaxed: both pods land in us-west-2a, on one node.
		{name: "zone spread ScheduleAnyway is relaxed", setup: func(w *world) {
			fullNodeIn2b(w)
			w.addPods("web", 2, "", small, spread(corev1.LabelTopologyZone, 1, corev1.ScheduleAnyway))
		}, fleet: "default/m5.xlarge/on-demand×1"},
		// Existing matching pods count: two web pods already run in us-west-2a and 2b
		// on kept nodes, so the three new ones go 2c, then the next ones keep the skew.
		{name: "zone spread counts pods that stay", setup: func(w *world) {
			w.addNode("keep-a", "ng-keep", "m5.large", "us-west-2a", rl("cpu", "1", "memory", "2Gi", "pods", "29"), nil)
			w.addNode("keep-b", "ng-keep", "m5.large", "us-west-2b", rl("cpu", "1", "memory", "2Gi", "pods", "29"), nil)
			w.addPods("web-old-a", 1, "keep-a", small, func(p *snapshot.Pod) { p.Labels["app"] = "web" })
			w.addPods("web-old-b", 1, "keep-b", small, func(p *snapshot.Pod) { p.Labels["app"] = "web" })
			w.addPods("web", 1, "", small, spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule))
		}, fleet: "default/m6g.large/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2c"}) {
				t.Errorf("zones = %v, want [us-west-2c]", got)
			}
		}},
	})
}

func TestPodAffinityAndAntiAffinity(t *testing.T) {
	anti := func(app string) func(*snapshot.Pod) {
		return func(p *snapshot.Pod) {
			p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: selector(app), TopologyKey: corev1.LabelHostname,
			}}}}
		}
	}
	affinity := func(app, key string) func(*snapshot.Pod) {
		return func(p *snapshot.Pod) {
			p.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: selector(app), TopologyKey: key,
			}}}}
		}
	}
	roomy := rl("cpu", "3920m", "memory", "14162Mi", "pods", "58")
	run(t, []tcase{
		{name: "self anti-affinity on hostname: one pod per node", setup: func(w *world) {
			w.addPods("web", 3, "", small, anti("web"))
		}, fleet: "default/m6g.large/on-demand×3"},
		{name: "self anti-affinity on zone: one pod per zone", setup: func(w *world) {
			w.addPods("web", 5, "", small, func(p *snapshot.Pod) {
				anti("web")(p)
				p.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey = corev1.LabelTopologyZone
			})
		}, fleet: "default/m6g.large/on-demand×3", unsched: map[string]string{
			"web-003": "pod anti-affinity on topology.kubernetes.io/zone cannot be satisfied (NodePool default)",
			"web-004": "pod anti-affinity on topology.kubernetes.io/zone cannot be satisfied (NodePool default)",
		}},
		{name: "anti-affinity to a pod on a kept node keeps off that node", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil)
			w.addPods("db", 1, "keep-1", small, nil)
			w.addPods("web", 1, "", small, anti("db"))
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "a kept pod's anti-affinity repels the pods it selects", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil)
			w.addPods("db", 1, "keep-1", small, anti("web"))
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "without anti-affinity the kept node is used", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil)
			w.addPods("db", 1, "keep-1", small, nil)
			w.addPods("web", 1, "", small, nil)
		}, fleet: ""},
		// db runs in us-west-2b on a full kept node: web must follow it to 2b.
		{name: "pod affinity on zone follows the peer", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.large", "us-west-2b", rl("cpu", "1", "memory", "2Gi", "pods", "29"), nil)
			w.addPods("db", 1, "keep-1", small, nil)
			w.addPods("web", 2, "", small, affinity("db", corev1.LabelTopologyZone))
		}, fleet: "default/m5.xlarge/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2b"}) {
				t.Errorf("zones = %v, want [us-west-2b]", got)
			}
		}},
		// web (2 CPU) is queued before db (1 CPU) and db's NodeClaim is not pinned to a
		// zone when placed: web follows db in the next round, once db's node launched
		// in us-west-2a.
		{name: "pod affinity to a pod placed later in the same batch", setup: func(w *world) {
			w.addPods("db", 1, "", small, nil)
			w.addPods("web", 1, "", rl("cpu", "2", "memory", "1Gi"), affinity("db", corev1.LabelTopologyZone))
		}, fleet: "default/m5.xlarge/on-demand×1 default/m6g.large/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2a", "us-west-2a"}) {
				t.Errorf("zones = %v, want both in us-west-2a", got)
			}
		}},
		{name: "pod affinity to a pod that exists nowhere", setup: func(w *world) {
			w.addPods("web", 1, "", small, affinity("ghost", corev1.LabelTopologyZone))
		}, unsched: map[string]string{"web-000": "pod affinity on topology.kubernetes.io/zone cannot be satisfied (NodePool default)"}},
		// Self affinity bootstraps the first zone, then every replica joins it; the
		// replicas fill one node, then a second in the same zone.
		{name: "self pod affinity on zone keeps replicas together", setup: func(w *world) {
			w.addPods("web", 20, "", small, affinity("web", corev1.LabelTopologyZone))
		}, fleet: "default/m5.2xlarge/on-demand×1 default/m5.4xlarge/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2a", "us-west-2a"}) {
				t.Errorf("zones = %v, want both in us-west-2a", got)
			}
		}},
	})
}

func TestVolumeZones(t *testing.T) {
	run(t, []tcase{
		{name: "bound volume pins the zone", setup: func(w *world) {
			w.addPods("db", 1, "", small, func(p *snapshot.Pod) { p.VolumeZones = []string{"us-west-2c"} })
		}, fleet: "default/m6g.large/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2c"}) {
				t.Errorf("zones = %v, want [us-west-2c]", got)
			}
		}},
		{name: "volume zone outside every NodePool", setup: func(w *world) {
			w.addPods("db", 1, "", small, func(p *snapshot.Pod) { p.VolumeZones = []string{"us-west-2d"} })
		}, unsched: map[string]string{"db-000": "volume zone us-west-2d not offered by any NodePool"}},
		{name: "volume zone on a kept node of another zone is not used", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", rl("cpu", "3920m", "memory", "14162Mi", "pods", "58"), nil)
			w.addPods("db", 1, "", small, func(p *snapshot.Pod) { p.VolumeZones = []string{"us-west-2b"} })
		}, fleet: "default/m6g.large/on-demand×1"},
	})
}

func TestDaemonSetOverheadAndMaxPods(t *testing.T) {
	ds := func(name string, requests corev1.ResourceList, edit func(*snapshot.DaemonSet)) func(*world) {
		return func(w *world) {
			d := snapshot.DaemonSet{Namespace: "kube-system", Name: name, Requests: requests}
			if edit != nil {
				edit(&d)
			}
			w.snap.DaemonSets = append(w.snap.DaemonSets, d)
		}
	}
	tiny := rl("cpu", "10m", "memory", "10Mi")
	run(t, []tcase{
		{name: "1.5 CPU fits a large type without daemons", setup: func(w *world) {
			w.addPods("web", 1, "", rl("cpu", "1500m", "memory", "1Gi"), nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		// 1930m − 500m daemon = 1430m < 1500m: the next type that fits is m5.xlarge.
		{name: "daemon overhead makes the large types too small", setup: func(w *world) {
			ds("agent", rl("cpu", "500m", "memory", "100Mi"), nil)(w)
			w.addPods("web", 1, "", rl("cpu", "1500m", "memory", "1Gi"), nil)
		}, fleet: "default/m5.xlarge/on-demand×1"},
		{name: "daemon that does not select the NodePool adds nothing", setup: func(w *world) {
			ds("gpu-agent", rl("cpu", "500m"), func(d *snapshot.DaemonSet) { d.NodeSelector = map[string]string{"accelerator": "nvidia"} })(w)
			w.addPods("web", 1, "", rl("cpu", "1500m", "memory", "1Gi"), nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "daemon that does not tolerate the NodePool taint adds nothing", setup: func(w *world) {
			w.plan.NodePools[0].Spec.Template.Spec.Taints = []karpenter.Taint{{Key: "dedicated", Value: "web", Effect: "NoSchedule"}}
			ds("agent", rl("cpu", "500m"), nil)(w)
			w.addPods("web", 1, "", rl("cpu", "1500m", "memory", "1Gi"), func(p *snapshot.Pod) {
				p.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
			})
		}, fleet: "default/m6g.large/on-demand×1"},
		// ENI-limited max pods: large types take 29 pods (3 ENIs × 9 IPs + 2).
		{name: "29 tiny pods fit the cheapest type", setup: func(w *world) {
			w.addPods("web", 29, "", tiny, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "30 tiny pods need a 58-pod type", setup: func(w *world) {
			w.addPods("web", 30, "", tiny, nil)
		}, fleet: "default/m5.xlarge/on-demand×1"},
		{name: "a daemon takes a pod slot", setup: func(w *world) {
			ds("agent", tiny, nil)(w)
			w.addPods("web", 29, "", tiny, nil)
		}, fleet: "default/m5.xlarge/on-demand×1"},
		{name: "kubelet maxPods in the EC2NodeClass", setup: func(w *world) {
			w.plan.EC2NodeClasses[0].Spec.Kubelet = &karpenter.Kubelet{MaxPods: new(int32(10))}
			w.addPods("web", 29, "", tiny, nil)
		}, fleet: "default/m6g.large/on-demand×3"},
	})
}

func TestLimits(t *testing.T) {
	limit := func(k, v string) func(*world) {
		return func(w *world) {
			w.plan.NodePools[0].Spec.Limits = map[corev1.ResourceName]string{corev1.ResourceName(k): v}
		}
	}
	run(t, []tcase{
		// cpu 4: types of ≤ 4 vCPU only; m5.xlarge takes 3 pods and the limit is spent.
		{name: "cpu limit", setup: func(w *world) {
			limit("cpu", "4")(w)
			w.addPods("web", 6, "", small, nil)
		}, fleet: "default/m5.xlarge/on-demand×1", unsched: map[string]string{
			"web-003": "NodePool limits reached (default: cpu 4)",
			"web-004": "NodePool limits reached (default: cpu 4)",
			"web-005": "NodePool limits reached (default: cpu 4)",
		}},
		{name: "nodes limit", setup: func(w *world) {
			limit("nodes", "1")(w)
			w.addPods("web", 17, "", small, nil)
		}, fleet: "default/m5.4xlarge/on-demand×1", unsched: map[string]string{
			"web-015": "NodePool limits reached (default: nodes 1)",
			"web-016": "NodePool limits reached (default: nodes 1)",
		}},
		{name: "existing Karpenter nodes count against the limit", setup: func(w *world) {
			limit("cpu", "4")(w)
			w.addNode("default-old", "", "m5.xlarge", "us-west-2a", rl("cpu", "100m", "memory", "1Gi", "pods", "58"),
				map[string]string{karpenter.LabelNodePool: "default"}).Capacity = rl("cpu", "4", "memory", "16Gi", "pods", "58")
			w.addPods("web", 1, "", small, nil)
		}, unsched: map[string]string{"web-000": "NodePool limits reached (default: cpu 4)"}},
		// The first NodeClaim (two 2-CPU pods) is charged the largest type it could still
		// become (m5.4xlarge, 16 CPU), exhausting the limit; the anti-affine pods fail in
		// that round. Launching it as m5.2xlarge gives 8 CPU back: the next round fits
		// them on an m5.xlarge.
		{name: "limits freed by launching run another round", setup: func(w *world) {
			limit("cpu", "16")(w)
			w.addPods("big", 2, "", rl("cpu", "2", "memory", "1Gi"), nil)
			w.addPods("web", 3, "", small, func(p *snapshot.Pod) {
				p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: selector("big"), TopologyKey: corev1.LabelHostname,
				}}}}
			})
		}, fleet: "default/m5.2xlarge/on-demand×1 default/m5.xlarge/on-demand×1"},
	})
}

func TestMinValues(t *testing.T) {
	families := func(minValues int) func(*world) {
		return func(w *world) {
			r := req(karpenter.LabelInstanceFamily, "In", "m5", "c5", "m6g")
			r.MinValues = new(minValues)
			w.plan.NodePools[0].Spec.Template.Spec.Requirements = []karpenter.Requirement{onDemand(), r}
		}
	}
	mid := rl("cpu", "1500m", "memory", "1Gi")
	run(t, []tcase{
		{name: "met by a single pod", setup: func(w *world) { families(2)(w); w.addPods("web", 1, "", mid, nil) },
			fleet: "default/m6g.large/on-demand×1"},
		// Two 1.5-CPU pods only fit m5 types: one family, below minValues 2, so each
		// NodeClaim keeps one pod and stays flexible across m5, c5 and m6g.
		{name: "strict minValues limits packing", setup: func(w *world) { families(2)(w); w.addPods("web", 4, "", mid, nil) },
			fleet: "default/m6g.large/on-demand×4"},
		{name: "best-effort minValues packs", setup: func(w *world) {
			families(2)(w)
			w.opts.MinValuesPolicy = MinValuesBestEffort
			w.addPods("web", 4, "", mid, nil)
		}, fleet: "default/m5.2xlarge/on-demand×1"},
		{name: "NodePool that can never meet minValues", setup: func(w *world) {
			r := req(karpenter.LabelInstanceFamily, "In", "m5")
			r.MinValues = new(2)
			w.plan.NodePools[0].Spec.Template.Spec.Requirements = []karpenter.Requirement{onDemand(), r}
			w.addPods("web", 1, "", mid, nil)
		}, unsched: map[string]string{"web-000": "no NodePool can launch nodes (NodePool default: its instance types cannot meet minValues for karpenter.k8s.aws/instance-family (minValues 2, 1 available))"}},
	})
}

func TestCapacityTypeAndWeight(t *testing.T) {
	pool := func(name string, weight int32, reqs ...karpenter.Requirement) karpenter.NodePool {
		np := nodePool(name, reqs...)
		if weight > 0 {
			np.Spec.Weight = new(weight)
		}
		return np
	}
	run(t, []tcase{
		// c5.large and m6g.large both cost 0.03 spot: the name breaks the tie.
		{name: "spot preferred when allowed", setup: func(w *world) {
			setPool(req(karpenter.LabelCapacityType, "In", "spot", "on-demand"))(w)
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/c5.large/spot×1"},
		{name: "no capacity-type requirement allows spot", setup: func(w *world) {
			setPool()(w)
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/c5.large/spot×1"},
		{name: "on-demand only", setup: func(w *world) { w.addPods("web", 1, "", small, nil) },
			fleet: "default/m6g.large/on-demand×1"},
		{name: "spot allowed but the type is not sold as spot", setup: func(w *world) {
			w.cat = append(TypeList{}, testTypes()...)
			w.cat.(TypeList)[4].SupportedUsageClasses = []string{"on-demand"} // c5.large
			w.cat.(TypeList)[4].SpotPrice = 0
			setPool(req(karpenter.LabelCapacityType, "In", "spot", "on-demand"), req(karpenter.LabelInstanceFamily, "In", "c5"))(w)
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/c5.large/on-demand×1"},
		{name: "higher weight first", setup: func(w *world) {
			w.plan.NodePools = []karpenter.NodePool{
				pool("a", 10, onDemand(), req(karpenter.LabelInstanceFamily, "In", "m5")),
				pool("b", 50, onDemand(), req(karpenter.LabelInstanceFamily, "In", "c5")),
			}
			w.addPods("web", 1, "", small, nil)
		}, fleet: "b/c5.large/on-demand×1"},
		{name: "falls back to the lower weight when the pod does not fit", setup: func(w *world) {
			w.plan.NodePools = []karpenter.NodePool{
				pool("a", 10, onDemand(), req(karpenter.LabelInstanceFamily, "In", "m5")),
				pool("b", 50, onDemand(), req(karpenter.LabelInstanceFamily, "In", "c5")),
			}
			w.addPods("web", 1, "", rl("cpu", "3", "memory", "1Gi"), nil)
		}, fleet: "a/m5.xlarge/on-demand×1"},
		{name: "equal weights: name descending, as Karpenter orders them", setup: func(w *world) {
			w.plan.NodePools = []karpenter.NodePool{
				pool("a", 0, onDemand(), req(karpenter.LabelInstanceFamily, "In", "m5")),
				pool("b", 0, onDemand(), req(karpenter.LabelInstanceFamily, "In", "c5")),
			}
			w.addPods("web", 1, "", small, nil)
		}, fleet: "b/c5.large/on-demand×1"},
	})
}

func TestBinPacking(t *testing.T) {
	roomy := rl("cpu", "4", "memory", "16Gi", "pods", "58")
	run(t, []tcase{
		// Three 1-CPU pods: the NodeClaim keeps the types that fit all three, cheapest
		// m5.xlarge.
		{name: "cheapest type for the batch", setup: func(w *world) { w.addPods("web", 3, "", small, nil) },
			fleet: "default/m5.xlarge/on-demand×1"},
		// 20 pods: the first NodeClaim fills up to the largest type (15 pods on
		// m5.4xlarge), the rest (5) fit an m5.2xlarge.
		{name: "first fit decreasing over a large batch", setup: func(w *world) { w.addPods("web", 20, "", small, nil) },
			fleet: "default/m5.2xlarge/on-demand×1 default/m5.4xlarge/on-demand×1"},
		// Bigger pods first: the 3-CPU pod opens a NodeClaim, the 1-CPU pods fill it.
		{name: "smaller pods fill the larger pods' node", setup: func(w *world) {
			w.addPods("small", 4, "", small, nil)
			w.addPods("big", 1, "", rl("cpu", "3", "memory", "1Gi"), nil)
		}, fleet: "default/m5.2xlarge/on-demand×1"},
		{name: "pods that stay keep their requests on kept nodes", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil)
			w.addPods("db", 1, "keep-1", small, nil)
			w.addNode("ng-a-1", "ng-a", "m5.xlarge", "us-west-2a", roomy, nil)
			w.addPods("web", 4, "ng-a-1", small, nil)
		}, fleet: "default/m6g.large/on-demand×1", check: func(t *testing.T, p *Prediction) {
			if got := placementsByNode(p)["keep-1"]; got != 3 {
				t.Errorf("pods on the kept node = %d, want 3", got)
			}
			if p.PodsOnExisting != 3 || p.PodsOnNew != 1 || p.PodsSimulated != 4 {
				t.Errorf("counts = %d existing, %d new of %d", p.PodsOnExisting, p.PodsOnNew, p.PodsSimulated)
			}
		}},
		{name: "cordoned, not-ready and Fargate nodes are not used", setup: func(w *world) {
			w.addNode("keep-1", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil).Unschedulable = true
			w.addNode("keep-2", "ng-keep", "m5.xlarge", "us-west-2a", roomy, nil).Ready = false
			w.addNode("fargate-1", "", "", "us-west-2a", roomy, nil).Fargate = true
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "existing Karpenter nodes are used", setup: func(w *world) {
			w.addNode("default-old", "", "m5.xlarge", "us-west-2a", roomy, map[string]string{karpenter.LabelNodePool: "default"})
			w.addPods("web", 2, "", small, nil)
		}, fleet: ""},
		{name: "GPU request gets a GPU type", setup: func(w *world) {
			w.addPods("train", 1, "", rl("cpu", "2", "memory", "8Gi", "nvidia.com/gpu", "1"), nil)
		}, fleet: "default/p3.2xlarge/on-demand×1"},
		{name: "GPU request on a NodePool without GPU types", setup: func(w *world) {
			setPool(onDemand(), req(karpenter.LabelGPUCount, "DoesNotExist"))(w)
			w.addPods("train", 1, "", rl("cpu", "2", "memory", "8Gi", "nvidia.com/gpu", "1"), nil)
		}, unsched: map[string]string{"train-000": "requests 1 nvidia.com/gpu exceed the largest instance type allowed by NodePool default (none offers nvidia.com/gpu)"}},
		// p3.2xlarge made cheaper than m5.2xlarge: still not chosen for a CPU pod
		// (karpenter-provider-aws filterExoticInstanceTypes).
		{name: "GPU types are not used for CPU pods while another type fits", setup: func(w *world) {
			w.cat = append(TypeList{}, testTypes()...)
			w.cat.(TypeList)[6].OnDemandPrice = 0.2
			setPool(onDemand(), req(karpenter.LabelInstanceCPU, "In", "8"))(w)
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/m5.2xlarge/on-demand×1"},
		{name: "a type without a price is not taken for the cheapest", setup: func(w *world) {
			w.cat = append(TypeList{}, testTypes()...)
			w.cat.(TypeList)[5].OnDemandPrice, w.cat.(TypeList)[5].SpotPrice = 0, 0 // m6g.large
			w.addPods("web", 1, "", small, nil)
		}, fleet: "default/c5.large/on-demand×1"},
		{name: "requests beyond the largest type", setup: func(w *world) {
			w.addPods("huge", 1, "", rl("cpu", "96", "memory", "8Gi"), nil)
		}, unsched: map[string]string{"huge-000": "requests 96 cpu exceed the largest instance type allowed by NodePool default (m5.4xlarge leaves 15890m cpu after DaemonSets)"}},
	})
}

func TestPreferencesAndPriority(t *testing.T) {
	prefer := func(weight int32, e corev1.NodeSelectorRequirement) func(*snapshot.Pod) {
		return func(p *snapshot.Pod) {
			p.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{e}},
			}}}}
		}
	}
	run(t, []tcase{
		{name: "preferred node affinity is honoured when it can be", setup: func(w *world) {
			w.addPods("web", 1, "", small, prefer(50, expr(karpenter.LabelInstanceFamily, corev1.NodeSelectorOpIn, "c5")))
		}, fleet: "default/c5.large/on-demand×1"},
		{name: "preferred node affinity is relaxed when it cannot be", setup: func(w *world) {
			w.addPods("web", 1, "", small, prefer(50, expr(karpenter.LabelInstanceFamily, corev1.NodeSelectorOpIn, "x9")))
		}, fleet: "default/m6g.large/on-demand×1"},
		{name: "IgnorePreferences drops it up front", setup: func(w *world) {
			w.opts.IgnorePreferences = true
			w.addPods("web", 1, "", small, prefer(50, expr(karpenter.LabelInstanceFamily, corev1.NodeSelectorOpIn, "c5")))
		}, fleet: "default/m6g.large/on-demand×1"},
		// Preferred anti-affinity on hostname is first treated as required: one pod per
		// node.
		{name: "preferred pod anti-affinity spreads when it can", setup: func(w *world) {
			w.addPods("web", 2, "", small, func(p *snapshot.Pod) {
				p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{LabelSelector: selector("web"), TopologyKey: corev1.LabelHostname},
				}}}}
			})
		}, fleet: "default/m6g.large/on-demand×2"},
		// Pods restricted to two zones spread over those two only.
		{name: "spread counts only the zones the pod may use", setup: func(w *world) {
			w.addPods("web", 4, "", small, func(p *snapshot.Pod) {
				spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule)(p)
				p.Affinity = nodeAffinity(expr(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, "us-west-2a", "us-west-2b"))
			})
		}, fleet: "default/m5.xlarge/on-demand×2", check: func(t *testing.T, p *Prediction) {
			if got := zonesOf(p); !slices.Equal(got, []string{"us-west-2a", "us-west-2b"}) {
				t.Errorf("zones = %v", got)
			}
		}},
		// minDomains 5 with three zones: the global minimum counts as 0, so each zone
		// takes at most maxSkew (1) pod; the fourth pod cannot schedule.
		{name: "spread minDomains", setup: func(w *world) {
			w.addPods("web", 4, "", small, func(p *snapshot.Pod) {
				spread(corev1.LabelTopologyZone, 1, corev1.DoNotSchedule)(p)
				p.TopologySpreadConstraints[0].MinDomains = new(int32(5))
			})
		}, fleet: "default/m6g.large/on-demand×3", unsched: map[string]string{
			"web-003": "topology spread on topology.kubernetes.io/zone (maxSkew 1, DoNotSchedule) cannot be satisfied (NodePool default)",
		}},
		// The only NodePool fits one 1-CPU pod (cpu limit 2): the high-priority pod
		// gets it although its name sorts last.
		{name: "priority orders the queue", setup: func(w *world) {
			w.plan.NodePools[0].Spec.Limits = map[corev1.ResourceName]string{"cpu": "2"}
			w.addPods("a-low", 1, "", small, nil)
			w.addPods("z-high", 1, "", small, func(p *snapshot.Pod) { p.Priority = new(int32(1000)) })
		}, fleet: "default/m6g.large/on-demand×1", unsched: map[string]string{
			"a-low-000": "NodePool limits reached (default: cpu 2)",
		}},
	})
}
