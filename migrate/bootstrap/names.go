package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// AWS name limits.
const (
	maxRoleName    = 64
	maxProfileName = 128
	maxQueueName   = 80
	maxRuleName    = 64
	maxPolicyName  = 128
)

// fitName returns prefix+cluster+suffix, shortening the cluster part (and adding a hash
// of the whole cluster name, so that two long names stay distinct) when the result would
// exceed limit. EKS cluster names are up to 100 characters of [A-Za-z0-9_-], which every
// limit here accepts.
func fitName(prefix, cluster, suffix string, limit int) string {
	full := prefix + cluster + suffix
	if len(full) <= limit {
		return full
	}
	sum := sha256.Sum256([]byte(cluster))
	h := hex.EncodeToString(sum[:])[:8]
	keep := limit - len(prefix) - len(suffix) - len(h) - 1
	if keep < 1 {
		keep = 1
	}
	c := strings.TrimRight(cluster[:min(keep, len(cluster))], "-_")
	return prefix + c + "-" + h + suffix
}

// DefaultNodeRoleName is the node role name the AWS migration guide uses.
func DefaultNodeRoleName(cluster string) string {
	return fitName("KarpenterNodeRole-", cluster, "", maxRoleName)
}

// DefaultControllerRoleName is the controller role name the AWS migration guide uses.
func DefaultControllerRoleName(cluster string) string {
	return fitName("KarpenterControllerRole-", cluster, "", maxRoleName)
}

func controllerPolicyName(cluster string) string {
	return fitName("KarpenterControllerPolicy-", cluster, "", maxPolicyName)
}

// DefaultQueueName names the interruption queue. It is not the bare cluster name the
// getting-started guide uses, so that a queue left over from that guide is never taken
// for karpshift's.
func DefaultQueueName(cluster string) string {
	return fitName("Karpenter-", cluster, "", maxQueueName)
}

func ruleName(cluster, logical string) string {
	return fitName("Karpenter-", cluster, "-"+logical, maxRuleName)
}

// roleNameOf returns the role name of a role ARN (the last path segment) or the input
// when it is already a name.
func roleNameOf(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}
