package translate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// portableKubeletFields are the twelve typed kubelet fields every Karpenter v1 release
// accepts (karpenter-mapping.md §1.9).
var portableKubeletFields = []string{
	"clusterDNS", "cpuCFSQuota", "evictionHard", "evictionMaxPodGracePeriod", "evictionSoft",
	"evictionSoftGracePeriod", "imageGCHighThresholdPercent", "imageGCLowThresholdPercent",
	"kubeReserved", "maxPods", "podsPerCore", "systemReserved",
}

// kubeletFlags maps kubelet command-line flags to those fields.
var kubeletFlags = map[string]string{
	"--max-pods":                      "maxPods",
	"--cluster-dns":                   "clusterDNS",
	"--pods-per-core":                 "podsPerCore",
	"--system-reserved":               "systemReserved",
	"--kube-reserved":                 "kubeReserved",
	"--eviction-hard":                 "evictionHard",
	"--eviction-soft":                 "evictionSoft",
	"--eviction-soft-grace-period":    "evictionSoftGracePeriod",
	"--eviction-max-pod-grace-period": "evictionMaxPodGracePeriod",
	"--image-gc-high-threshold":       "imageGCHighThresholdPercent",
	"--image-gc-low-threshold":        "imageGCLowThresholdPercent",
	"--cpu-cfs-quota":                 "cpuCFSQuota",
}

// kubeletArgs collects kubelet settings found in user data.
type kubeletArgs struct {
	k        karpenter.Kubelet
	any      bool
	problems []string
}

func (a *kubeletArgs) result() *karpenter.Kubelet {
	if !a.any {
		return nil
	}
	k := a.k
	return &k
}

// set parses a flag-style value into a field.
func (a *kubeletArgs) set(field, val, source string) {
	val = strings.TrimSpace(val)
	bad := func() { a.problems = append(a.problems, fmt.Sprintf("%s %s=%q (not understood)", source, field, val)) }
	switch field {
	case "maxPods", "podsPerCore", "evictionMaxPodGracePeriod", "imageGCHighThresholdPercent", "imageGCLowThresholdPercent":
		n, err := strconv.ParseInt(val, 10, 32)
		if err != nil || n < 0 {
			bad()
			return
		}
		a.setInt(field, int32(n))
	case "cpuCFSQuota":
		v, err := strconv.ParseBool(val)
		if err != nil {
			bad()
			return
		}
		a.k.CPUCFSQuota = &v
	case "clusterDNS":
		a.k.ClusterDNS = splitList(val)
	case "systemReserved", "kubeReserved", "evictionSoftGracePeriod":
		for _, kv := range splitList(val) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				bad()
				return
			}
			a.setMap(field, k, v, source)
		}
	case "evictionHard", "evictionSoft":
		for _, kv := range splitList(val) {
			k, v, ok := strings.Cut(kv, "<")
			if !ok {
				bad()
				return
			}
			a.setMap(field, k, v, source)
		}
	default:
		bad()
		return
	}
	a.any = true
}

func (a *kubeletArgs) setInt(field string, n int32) {
	p := &n
	switch field {
	case "maxPods":
		a.k.MaxPods = p
	case "podsPerCore":
		a.k.PodsPerCore = p
	case "evictionMaxPodGracePeriod":
		a.k.EvictionMaxPodGracePeriod = p
	case "imageGCHighThresholdPercent":
		a.k.ImageGCHighThresholdPercent = p
	case "imageGCLowThresholdPercent":
		a.k.ImageGCLowThresholdPercent = p
	}
	a.any = true
}

func (a *kubeletArgs) setMap(field, key, val, _ string) {
	var m *map[string]string
	switch field {
	case "systemReserved":
		m = &a.k.SystemReserved
	case "kubeReserved":
		m = &a.k.KubeReserved
	case "evictionHard":
		m = &a.k.EvictionHard
	case "evictionSoft":
		m = &a.k.EvictionSoft
	case "evictionSoftGracePeriod":
		m = &a.k.EvictionSoftGracePeriod
	default:
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[strings.TrimSpace(key)] = strings.TrimSpace(val)
	a.any = true
}

// setValue stores a decoded YAML value (NodeConfig kubelet config).
func (a *kubeletArgs) setValue(field string, v any, source string) {
	switch x := v.(type) {
	case float64:
		if x < 0 || x > math.MaxInt32 || x != math.Trunc(x) {
			a.problems = append(a.problems, fmt.Sprintf("%s=%v (not a non-negative integer)", source, x))
			return
		}
		a.setInt(field, int32(x))
	case int64:
		a.setInt(field, int32(x))
	case bool:
		if field == "cpuCFSQuota" {
			a.k.CPUCFSQuota = &x
			a.any = true
		}
	case string:
		a.set(field, x, source)
	case []any:
		var ss []string
		for _, e := range x {
			ss = append(ss, fmt.Sprint(e))
		}
		if field == "clusterDNS" {
			a.k.ClusterDNS = ss
			a.any = true
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			a.setMap(field, k, fmt.Sprint(x[k]), source)
		}
	default:
		a.problems = append(a.problems, fmt.Sprintf("%s (unsupported value)", source))
	}
}
