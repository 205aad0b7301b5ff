package autoscaler

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzParseArgs feeds newline-separated tokens to ParseArgs. It must never panic; an
// error must be a *FlagError naming a flag that appears in the input; a result must
// hold CA's invariants and serialise (no NaN).
func FuzzParseArgs(f *testing.F) {
	seeds := []string{
		"./cluster-autoscaler\n--cloud-provider=aws\n--expander=priority,least-waste\n--nodes=1:10:ng-a",
		"--scale-down-unneeded-time\n10m\n--balance-similar-node-groups\n--scale-down-enabled=false",
		"-v=4\n--logtostderr\n--\n--nodes=1:2:x",
		"--cores-total=0:320000\n--memory-total=0:6400000\n--max-nodes-total=0x10",
		"--nodes=1:x:name",
		"--cores-total=5",
		"--scale-down-unneeded-time=10 minutes",
		"--scale-down-utilization-threshold=Inf",
		"--skip_nodes_with_local_storage=F",
		"--=",
		"---",
		"-",
		"",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		args := strings.Split(data, "\n")
		flags, err := ParseArgs(args)
		if err != nil {
			var fe *FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FlagError: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "flag --"+fe.Flag+":") {
				t.Fatalf("error %q does not start with the flag name %q", err, fe.Flag)
			}
			if fe.Flag != "" && !strings.Contains(strings.ReplaceAll(data, "_", "-"), fe.Flag) {
				t.Fatalf("error names flag %q, which is not in the input %q", fe.Flag, data)
			}
			return
		}
		if flags.CoresTotal.Min < 0 || flags.CoresTotal.Min > flags.CoresTotal.Max {
			t.Fatalf("cores-total %+v breaks 0 <= min <= max", flags.CoresTotal)
		}
		if flags.MemoryTotalGiB.Min < 0 || flags.MemoryTotalGiB.Min > flags.MemoryTotalGiB.Max {
			t.Fatalf("memory-total %+v breaks 0 <= min <= max", flags.MemoryTotalGiB)
		}
		for _, n := range flags.Nodes {
			if n.Min < 0 || n.Min > n.Max || n.Name == "" {
				t.Fatalf("nodes %+v breaks 0 <= min <= max with a name", n)
			}
		}
		if len(flags.Expander) == 0 || slices.Contains(flags.Expander, "") {
			t.Fatalf("expander chain %q has an empty element", flags.Expander)
		}
		if flags.Namespace == "" {
			t.Fatal("namespace is empty")
		}
		if _, err := json.Marshal(flags); err != nil {
			t.Fatalf("flags do not serialise: %v", err)
		}
	})
}

// FuzzParsePriorities must never panic; an error must be a *PriorityError; a result
// must be sorted highest first with unique priorities and compilable patterns, and
// Priority must agree with a direct evaluation.
func FuzzParsePriorities(f *testing.F) {
	seeds := []string{
		"10:\n  - .*t2\\.large.*\n50:\n  - .*m4\\.4xlarge.*\n",
		"{-1: [a], 0: [b], '7': [\"c|d\"]}",
		"10:\n  - \"[a-\"\n",
		"10:\n20:\n  -\n",
		"1: &p [x]\n2: *p\n",
		"high: [a]",
		"10: .*",
		"- a",
		"# comment",
		"0x10: [a]\n0o7: [b]\n",
		"",
	}
	for _, s := range seeds {
		f.Add(s, "eks-ng-a-1234")
	}
	f.Fuzz(func(t *testing.T, data, asg string) {
		levels, err := ParsePriorities(data)
		if err != nil {
			var pe *PriorityError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PriorityError: %v", err, err)
			}
			if pe.Pattern != "" && (pe.Line == 0 || pe.Key == "") {
				t.Fatalf("a regexp error must name its line and key: %v", err)
			}
			return
		}
		best, matched := 0, false
		for i, l := range levels {
			if i > 0 && levels[i-1].Priority <= l.Priority {
				t.Fatalf("levels not strictly descending: %+v", levels)
			}
			for _, p := range l.Patterns {
				re, err := regexp.Compile(p)
				if err != nil {
					t.Fatalf("pattern %q was accepted but does not compile: %v", p, err)
				}
				if !matched && re.MatchString(asg) {
					best, matched = l.Priority, true
				}
			}
		}
		got, ok := Priority(levels, asg)
		if ok != (matched && best >= -1) || (matched && got != best) {
			t.Fatalf("Priority(%q) = %d, %v; direct evaluation %d, %v", asg, got, ok, best, matched)
		}
	})
}
