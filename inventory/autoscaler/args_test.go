package autoscaler

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func dur(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func TestDefaults(t *testing.T) {
	f, err := ParseArgs([]string{"./cluster-autoscaler"})
	if err != nil {
		t.Fatal(err)
	}
	want := snapshot.CAFlags{
		Expander:                          []string{"least-waste"},
		ScaleDownEnabled:                  true,
		ScaleDownUtilizationThreshold:     0.5,
		ScaleDownGPUUtilizationThreshold:  0.5,
		ScaleDownUnneededTime:             dur(10 * time.Minute),
		ScaleDownUnreadyTime:              dur(20 * time.Minute),
		ScaleDownDelayAfterAdd:            dur(10 * time.Minute),
		ScaleDownDelayAfterFailure:        dur(3 * time.Minute),
		SkipNodesWithLocalStorage:         true,
		SkipNodesWithSystemPods:           true,
		SkipNodesWithCustomControllerPods: true,
		MaxNodeProvisionTime:              dur(15 * time.Minute),
		CoresTotal:                        snapshot.MinMax{Max: 320000},
		MemoryTotalGiB:                    snapshot.MinMax{Max: 6400000},
		MaxGracefulTerminationSec:         600,
		ExpendablePodsPriorityCutoff:      -10,
		ScanInterval:                      dur(10 * time.Second),
		MaxScaleDownParallelism:           10,
		Namespace:                         "kube-system",
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", f, want)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, f snapshot.CAFlags)
	}{
		{
			name: "helm chart rendering",
			args: []string{
				"./cluster-autoscaler",
				"--cloud-provider=aws",
				"--namespace=autoscaling",
				"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod",
				"--logtostderr=true",
				"--stderrthreshold=info",
				"--v=4",
				"--balance-similar-node-groups=true",
				"--expander=priority,least-waste",
				"--skip-nodes-with-local-storage=false",
				"--skip-nodes-with-system-pods=false",
			},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "cloudProvider", f.CloudProvider, "aws")
				eq(t, "namespace", f.Namespace, "autoscaling")
				eq(t, "autodiscovery", f.NodeGroupAutoDiscovery, []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod"})
				eq(t, "balance", f.BalanceSimilarNodeGroups, true)
				eq(t, "expander", f.Expander, []string{"priority", "least-waste"})
				eq(t, "local storage", f.SkipNodesWithLocalStorage, false)
				eq(t, "system pods", f.SkipNodesWithSystemPods, false)
				eq(t, "custom controller pods (default)", f.SkipNodesWithCustomControllerPods, true)
				eq(t, "other", f.Other, map[string][]string{"logtostderr": {"true"}, "stderrthreshold": {"info"}, "v": {"4"}})
			},
		},
		{
			name: "space separated values, single dash, bare booleans, absolute binary",
			args: []string{
				"/cluster-autoscaler",
				"--scale-down-unneeded-time", "5m",
				"-scale-down-utilization-threshold=0.3",
				"-scan-interval", "30s",
				"--balance-similar-node-groups",
				"--scale-down-enabled=false",
				"--expendable-pods-priority-cutoff", "-5",
				"--max-nodes-total=0x10",
			},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "unneeded", f.ScaleDownUnneededTime, dur(5*time.Minute))
				eq(t, "threshold", f.ScaleDownUtilizationThreshold, 0.3)
				eq(t, "scan", f.ScanInterval, dur(30*time.Second))
				eq(t, "balance", f.BalanceSimilarNodeGroups, true)
				eq(t, "scale down", f.ScaleDownEnabled, false)
				eq(t, "cutoff", f.ExpendablePodsPriorityCutoff, -5)
				eq(t, "max nodes (base 0 like Go flag.Int)", f.MaxNodesTotal, 16)
				eq(t, "other", len(f.Other), 0)
			},
		},
		{
			name: "repeated flags",
			args: []string{
				"--nodes=1:10:ng-a", "--nodes", "0:5:ng-b",
				"--node-group-auto-discovery=asg:tag=a", "--node-group-auto-discovery=asg:tag=b",
				"--expander=random", "--expander=priority",
				"--scan-interval=20s", "--scan-interval=15s",
				"--balancing-ignore-label=a", "--balancing-ignore-label=b",
			},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "nodes", f.Nodes, []snapshot.NodesFlag{{Min: 1, Max: 10, Name: "ng-a"}, {Min: 0, Max: 5, Name: "ng-b"}})
				eq(t, "autodiscovery", f.NodeGroupAutoDiscovery, []string{"asg:tag=a", "asg:tag=b"})
				eq(t, "expander (last wins)", f.Expander, []string{"priority"})
				eq(t, "scan (last wins)", f.ScanInterval, dur(15*time.Second))
				eq(t, "ignore labels", f.BalancingIgnoreLabels, []string{"a", "b"})
			},
		},
		{
			name: "nodes name keeps further colons; totals; underscores normalised",
			args: []string{
				"--nodes=2:4:eks-ng:extra",
				"--cores-total=8:64",
				"--memory_total=16:256",
				"--max_graceful_termination_sec=120",
				"--max-node-provision-time=20m",
				"--scale-down-delay-after-add=0",
				"--new-pod-scale-up-delay=30s",
				"--max-scale-down-parallelism=3",
				"--enforce-node-group-min-size",
				"--ignore-daemonsets-utilization=1",
			},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "nodes", f.Nodes, []snapshot.NodesFlag{{Min: 2, Max: 4, Name: "eks-ng:extra"}})
				eq(t, "cores", f.CoresTotal, snapshot.MinMax{Min: 8, Max: 64})
				eq(t, "memory", f.MemoryTotalGiB, snapshot.MinMax{Min: 16, Max: 256})
				eq(t, "grace", f.MaxGracefulTerminationSec, 120)
				eq(t, "provision", f.MaxNodeProvisionTime, dur(20*time.Minute))
				eq(t, "delay after add", f.ScaleDownDelayAfterAdd, dur(0))
				eq(t, "new pod delay", f.NewPodScaleUpDelay, dur(30*time.Second))
				eq(t, "parallelism", f.MaxScaleDownParallelism, 3)
				eq(t, "min size", f.EnforceNodeGroupMinSize, true)
				eq(t, "ignore ds", f.IgnoreDaemonSetsUtilization, true)
			},
		},
		{
			name: "unknown flags and positionals go to Other",
			args: []string{
				"cluster-autoscaler",
				"--leader-elect",
				"--aws-use-static-instance-list", "--v", "2",
				"stray",
				"--", "--after", "end",
			},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "other", f.Other, map[string][]string{
					"leader-elect":                 {""},
					"aws-use-static-instance-list": {""},
					"v":                            {"2"},
					OtherPositional:                {"stray", "--after", "end"},
				})
			},
		},
		{
			name: "no binary, args only",
			args: []string{"--expander", "least-waste,priority"},
			check: func(t *testing.T, f snapshot.CAFlags) {
				eq(t, "expander", f.Expander, []string{"least-waste", "priority"})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatalf("ParseArgs: %v", err)
			}
			tt.check(t, f)
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--scale-down-unneeded-time=10 minutes"}, `flag --scale-down-unneeded-time: "10 minutes" is not a duration`},
		{[]string{"--scan-interval", "often"}, `flag --scan-interval: "often" is not a duration`},
		{[]string{"--nodes=1:x:name"}, `flag --nodes: "1:x:name" has a max ("x") that is not an integer`},
		{[]string{"--nodes=a:2:name"}, `flag --nodes: "a:2:name" has a min ("a") that is not an integer`},
		{[]string{"--nodes=1:2"}, `flag --nodes: "1:2" is not <min>:<max>:<name>`},
		{[]string{"--nodes=3:2:ng"}, `flag --nodes: "3:2:ng" has a min larger than its max`},
		{[]string{"--nodes=-1:2:ng"}, `flag --nodes: "-1:2:ng" has a negative min`},
		{[]string{"--nodes=1:2:"}, `flag --nodes: "1:2:" has no group name`},
		{[]string{"--nodes=1:99999999999:ng"}, `flag --nodes: "1:99999999999:ng" has a max ("99999999999") that is not an integer`},
		{[]string{"--cores-total=5"}, `flag --cores-total: "5" is not <min>:<max>`},
		{[]string{"--memory-total=10:5"}, `flag --memory-total: "10:5" has a min larger than its max`},
		{[]string{"--cores-total=-1:5"}, `flag --cores-total: "-1:5" has a negative min`},
		{[]string{"--balance-similar-node-groups=yes"}, `flag --balance-similar-node-groups: "yes" is not a boolean`},
		{[]string{"--scale-down-utilization-threshold=half"}, `flag --scale-down-utilization-threshold: "half" is not a number`},
		{[]string{"--scale-down-utilization-threshold=NaN"}, `flag --scale-down-utilization-threshold: "NaN" is not a finite number`},
		{[]string{"--max-nodes-total=1.5"}, `flag --max-nodes-total: "1.5" is not an integer`},
		{[]string{"--expander=priority,,random"}, `flag --expander: "priority,,random" has an empty expander name`},
		{[]string{"--expander="}, `flag --expander: "" has an empty expander name`},
		{[]string{"--namespace="}, `flag --namespace: "" is empty`},
		{[]string{"--node-group-auto-discovery="}, `flag --node-group-auto-discovery: "" is empty`},
		{[]string{"--v=4", "--scan-interval"}, `flag --scan-interval: needs a value`},
		{[]string{"--=x"}, `flag --: "--=x" is not a flag (bad flag syntax)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := ParseArgs(tt.args)
			if err == nil {
				t.Fatalf("want error %q, got none", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var fe *FlagError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FlagError", err)
			}
		})
	}
}

func TestHasExpander(t *testing.T) {
	f := Defaults()
	if HasExpander(f, "priority") {
		t.Error("default chain has no priority expander")
	}
	f.Expander = []string{"priority", "least-waste"}
	if !HasExpander(f, "priority") {
		t.Error("priority not found")
	}
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}
