package autoscaler

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// OtherPositional is the CAFlags.Other key under which ParseArgs keeps command-line
// tokens that are not flags (CA ignores them, but they are worth showing).
const OtherPositional = "_positional"

// FlagError is a malformed Cluster Autoscaler flag. It names the flag (without dashes)
// and the offending value so the message can point at the Deployment's args.
type FlagError struct {
	Flag  string
	Value string
	// Reason completes the sentence `"<value>" <reason>`, e.g. "is not a duration".
	Reason string
	// Missing is true when the flag had no value at all.
	Missing bool
}

func (e *FlagError) Error() string {
	if e.Missing {
		return fmt.Sprintf("flag --%s: %s", e.Flag, e.Reason)
	}
	return fmt.Sprintf("flag --%s: %q %s", e.Flag, e.Value, e.Reason)
}

// Defaults returns Cluster Autoscaler's defaults for every flag CAFlags models
// (CA config/flags/flags.go at cluster-autoscaler-1.36.1, karpenter-mapping.md §2.7).
// CloudProvider stays "": CA's default depends on the build and the chart always sets it.
func Defaults() snapshot.CAFlags {
	d := func(x time.Duration) metav1.Duration { return metav1.Duration{Duration: x} }
	return snapshot.CAFlags{
		Expander:                          []string{"least-waste"},
		ScaleDownEnabled:                  true,
		ScaleDownUtilizationThreshold:     0.5,
		ScaleDownGPUUtilizationThreshold:  0.5,
		ScaleDownUnneededTime:             d(10 * time.Minute),
		ScaleDownUnreadyTime:              d(20 * time.Minute),
		ScaleDownDelayAfterAdd:            d(10 * time.Minute),
		ScaleDownDelayAfterDelete:         d(0),
		ScaleDownDelayAfterFailure:        d(3 * time.Minute),
		SkipNodesWithLocalStorage:         true,
		SkipNodesWithSystemPods:           true,
		SkipNodesWithCustomControllerPods: true,
		MaxNodeProvisionTime:              d(15 * time.Minute),
		CoresTotal:                        snapshot.MinMax{Min: 0, Max: 320000},
		MemoryTotalGiB:                    snapshot.MinMax{Min: 0, Max: 6400000},
		MaxGracefulTerminationSec:         600,
		NewPodScaleUpDelay:                d(0),
		ExpendablePodsPriorityCutoff:      -10,
		ScanInterval:                      d(10 * time.Second),
		MaxScaleDownParallelism:           10,
		Namespace:                         "kube-system",
	}
}

// setter applies one flag value to the flags being built.
type setter func(f *snapshot.CAFlags, name, value string) error

// flagSpec describes one modelled flag. Booleans may stand alone; every other flag
// needs a value, either after "=" or as the next token.
type flagSpec struct {
	boolean bool
	set     setter
}

// specs maps a flag name (dashes, no leading "--") to its parser. Names follow CA's
// flags.go; CA normalises "_" to "-" (cliflag.WordSepNormalizeFunc) and so do we.
var specs = map[string]flagSpec{
	"expander":                    {set: setExpander},
	"balance-similar-node-groups": boolFlag(func(f *snapshot.CAFlags) *bool { return &f.BalanceSimilarNodeGroups }),
	"balancing-ignore-label": {set: func(f *snapshot.CAFlags, _, v string) error {
		f.BalancingIgnoreLabels = append(f.BalancingIgnoreLabels, v)
		return nil
	}},
	"node-group-auto-discovery": {set: func(f *snapshot.CAFlags, name, v string) error {
		if strings.TrimSpace(v) == "" {
			return &FlagError{Flag: name, Value: v, Reason: "is empty"}
		}
		f.NodeGroupAutoDiscovery = append(f.NodeGroupAutoDiscovery, v)
		return nil
	}},
	"nodes":                                  {set: setNodes},
	"scale-down-enabled":                     boolFlag(func(f *snapshot.CAFlags) *bool { return &f.ScaleDownEnabled }),
	"scale-down-utilization-threshold":       floatFlag(func(f *snapshot.CAFlags) *float64 { return &f.ScaleDownUtilizationThreshold }),
	"scale-down-gpu-utilization-threshold":   floatFlag(func(f *snapshot.CAFlags) *float64 { return &f.ScaleDownGPUUtilizationThreshold }),
	"scale-down-unneeded-time":               durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScaleDownUnneededTime }),
	"scale-down-unready-time":                durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScaleDownUnreadyTime }),
	"scale-down-delay-after-add":             durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScaleDownDelayAfterAdd }),
	"scale-down-delay-after-delete":          durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScaleDownDelayAfterDelete }),
	"scale-down-delay-after-failure":         durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScaleDownDelayAfterFailure }),
	"skip-nodes-with-local-storage":          boolFlag(func(f *snapshot.CAFlags) *bool { return &f.SkipNodesWithLocalStorage }),
	"skip-nodes-with-system-pods":            boolFlag(func(f *snapshot.CAFlags) *bool { return &f.SkipNodesWithSystemPods }),
	"skip-nodes-with-custom-controller-pods": boolFlag(func(f *snapshot.CAFlags) *bool { return &f.SkipNodesWithCustomControllerPods }),
	"max-node-provision-time":                durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.MaxNodeProvisionTime }),
	"max-nodes-total":                        intFlag(func(f *snapshot.CAFlags) *int { return &f.MaxNodesTotal }),
	"cores-total":                            minMaxFlag(func(f *snapshot.CAFlags) *snapshot.MinMax { return &f.CoresTotal }),
	"memory-total":                           minMaxFlag(func(f *snapshot.CAFlags) *snapshot.MinMax { return &f.MemoryTotalGiB }),
	"gpu-total": {set: func(f *snapshot.CAFlags, _, v string) error {
		f.GPUTotal = append(f.GPUTotal, v)
		return nil
	}},
	"max-graceful-termination-sec":    intFlag(func(f *snapshot.CAFlags) *int { return &f.MaxGracefulTerminationSec }),
	"new-pod-scale-up-delay":          durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.NewPodScaleUpDelay }),
	"expendable-pods-priority-cutoff": intFlag(func(f *snapshot.CAFlags) *int { return &f.ExpendablePodsPriorityCutoff }),
	"ignore-daemonsets-utilization":   boolFlag(func(f *snapshot.CAFlags) *bool { return &f.IgnoreDaemonSetsUtilization }),
	"scan-interval":                   durationFlag(func(f *snapshot.CAFlags) *metav1.Duration { return &f.ScanInterval }),
	"max-scale-down-parallelism":      intFlag(func(f *snapshot.CAFlags) *int { return &f.MaxScaleDownParallelism }),
	"enforce-node-group-min-size":     boolFlag(func(f *snapshot.CAFlags) *bool { return &f.EnforceNodeGroupMinSize }),
	"namespace": {set: func(f *snapshot.CAFlags, name, v string) error {
		if v == "" {
			return &FlagError{Flag: name, Value: v, Reason: "is empty"}
		}
		f.Namespace = v
		return nil
	}},
	"cloud-provider": {set: func(f *snapshot.CAFlags, _, v string) error {
		f.CloudProvider = v
		return nil
	}},
}

// ParseArgs parses Cluster Autoscaler's container command followed by its args.
//
// It accepts what CA's flag parser (pflag over Go flags) accepts: "--f=v", "--f v",
// "-f=v", "-f v", bare booleans ("--f", "--f=false"), "_" for "-" in names, "--" to end
// the flags, and the Helm chart's "--<key>=<value>" rendering. A leading token that is
// not a flag (the binary, "./cluster-autoscaler") is skipped. Repeatable flags (--nodes,
// --node-group-auto-discovery, --balancing-ignore-label, --gpu-total) accumulate; for
// the others the last occurrence wins, as in CA. Unset flags keep Defaults().
//
// A malformed value of a modelled flag is a *FlagError naming the flag and the value.
// Flags the parser does not model are kept in Other by name; as their type is unknown,
// "--f v" takes v as the value when v does not start with "-".
func ParseArgs(args []string) (snapshot.CAFlags, error) {
	f := Defaults()
	toks := args
	if len(toks) > 0 && !strings.HasPrefix(toks[0], "-") {
		toks = toks[1:]
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		if tok == "--" {
			for _, rest := range toks[i+1:] {
				addOther(&f, OtherPositional, rest)
			}
			break
		}
		if len(tok) < 2 || tok[0] != '-' {
			addOther(&f, OtherPositional, tok)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(tok, "-"), "=")
		if name == "" {
			return f, &FlagError{Flag: "", Value: tok, Reason: "is not a flag (bad flag syntax)"}
		}
		name = strings.ReplaceAll(name, "_", "-")
		spec, known := specs[name]
		if !known {
			if !hasValue && i+1 < len(toks) && !strings.HasPrefix(toks[i+1], "-") {
				i++
				value = toks[i]
			}
			addOther(&f, name, value)
			continue
		}
		if !hasValue {
			switch {
			case spec.boolean:
				value = "true"
			case i+1 < len(toks):
				i++
				value = toks[i]
			default:
				return f, &FlagError{Flag: name, Reason: "needs a value", Missing: true}
			}
		}
		if err := spec.set(&f, name, value); err != nil {
			return f, err
		}
	}
	return f, nil
}

func addOther(f *snapshot.CAFlags, name, value string) {
	if f.Other == nil {
		f.Other = map[string][]string{}
	}
	f.Other[name] = append(f.Other[name], value)
}

func boolFlag(field func(*snapshot.CAFlags) *bool) flagSpec {
	return flagSpec{boolean: true, set: func(f *snapshot.CAFlags, name, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: "is not a boolean"}
		}
		*field(f) = b
		return nil
	}}
}

func durationFlag(field func(*snapshot.CAFlags) *metav1.Duration) flagSpec {
	return flagSpec{set: func(f *snapshot.CAFlags, name, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: "is not a duration"}
		}
		*field(f) = metav1.Duration{Duration: d}
		return nil
	}}
}

func floatFlag(field func(*snapshot.CAFlags) *float64) flagSpec {
	return flagSpec{set: func(f *snapshot.CAFlags, name, v string) error {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: "is not a number"}
		}
		// CA would accept NaN, but it cannot be serialised and means nothing.
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &FlagError{Flag: name, Value: v, Reason: "is not a finite number"}
		}
		*field(f) = x
		return nil
	}}
}

func intFlag(field func(*snapshot.CAFlags) *int) flagSpec {
	return flagSpec{set: func(f *snapshot.CAFlags, name, v string) error {
		// Go's flag.Int parses with base 0, so "0x10" is 16 for CA too.
		x, err := strconv.ParseInt(v, 0, strconv.IntSize)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: "is not an integer"}
		}
		*field(f) = int(x)
		return nil
	}}
}

// minMaxFlag parses "<min>:<max>" as CA's parseMinMaxFlag does: base-10 integers,
// 0 <= min <= max.
func minMaxFlag(field func(*snapshot.CAFlags) *snapshot.MinMax) flagSpec {
	return flagSpec{set: func(f *snapshot.CAFlags, name, v string) error {
		lo, hi, ok := strings.Cut(v, ":")
		if !ok {
			return &FlagError{Flag: name, Value: v, Reason: "is not <min>:<max>"}
		}
		minV, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: fmt.Sprintf("has a min (%q) that is not an integer", lo)}
		}
		maxV, err := strconv.ParseInt(hi, 10, 64)
		if err != nil {
			return &FlagError{Flag: name, Value: v, Reason: fmt.Sprintf("has a max (%q) that is not an integer", hi)}
		}
		if minV < 0 {
			return &FlagError{Flag: name, Value: v, Reason: "has a negative min"}
		}
		if minV > maxV {
			return &FlagError{Flag: name, Value: v, Reason: "has a min larger than its max"}
		}
		*field(f) = snapshot.MinMax{Min: minV, Max: maxV}
		return nil
	}}
}

// setNodes parses "<min>:<max>:<name>" as CA's dynamic.SpecFromString does (split into
// at most three parts, so the name keeps any further colons), with scale-to-zero
// allowed as on AWS: 0 <= min <= max and a non-empty name.
func setNodes(f *snapshot.CAFlags, name, v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 {
		return &FlagError{Flag: name, Value: v, Reason: "is not <min>:<max>:<name>"}
	}
	minV, err := strconv.ParseInt(parts[0], 10, 32)
	if err != nil {
		return &FlagError{Flag: name, Value: v, Reason: fmt.Sprintf("has a min (%q) that is not an integer", parts[0])}
	}
	maxV, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return &FlagError{Flag: name, Value: v, Reason: fmt.Sprintf("has a max (%q) that is not an integer", parts[1])}
	}
	switch {
	case minV < 0:
		return &FlagError{Flag: name, Value: v, Reason: "has a negative min"}
	case minV > maxV:
		return &FlagError{Flag: name, Value: v, Reason: "has a min larger than its max"}
	case parts[2] == "":
		return &FlagError{Flag: name, Value: v, Reason: "has no group name"}
	}
	f.Nodes = append(f.Nodes, snapshot.NodesFlag{Min: int32(minV), Max: int32(maxV), Name: parts[2]})
	return nil
}

// setExpander splits the comma-separated expander chain. CA rejects an empty element
// at start-up, so do we; names are kept as written (validity is the planner's call).
func setExpander(f *snapshot.CAFlags, name, v string) error {
	parts := strings.Split(v, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return &FlagError{Flag: name, Value: v, Reason: "has an empty expander name"}
		}
		out = append(out, p)
	}
	f.Expander = out
	return nil
}

// HasExpander reports whether the expander chain contains name (e.g. "priority").
func HasExpander(f snapshot.CAFlags, name string) bool {
	for _, e := range f.Expander {
		if e == name {
			return true
		}
	}
	return false
}
