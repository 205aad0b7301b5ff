package translate

import (
	"fmt"
	"strconv"
	"time"

	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Cluster Autoscaler defaults (karpenter-mapping.md §2.7), used when the snapshot has no
// Cluster Autoscaler.
const (
	caDefaultUnneeded  = 10 * time.Minute
	caDefaultThreshold = 0.5
)

// disruption maps CA's scale-down settings, the node group's update config and the
// optional freeze window to NodePool disruption, and MaxInstanceLifetime to expireAfter.
func (c *groupCtx) disruption() {
	unneeded, threshold, enabled := caDefaultUnneeded, caDefaultThreshold, true
	gpu := c.ami.variant != variantNone
	if a := c.t.s.Autoscaler; a != nil {
		unneeded = a.Flags.ScaleDownUnneededTime.Duration
		threshold = a.Flags.ScaleDownUtilizationThreshold
		if gpu {
			threshold = a.Flags.ScaleDownGPUUtilizationThreshold
		}
		enabled = a.Flags.ScaleDownEnabled
	}
	opts := c.g.Autoscaler.Options
	if v, ok := opts["scaledownunneededtime"]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			unneeded = d
		} else {
			c.finding(plan.SeverityWarn, "autoscaling-option", "asg.tags[k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime]",
				fmt.Sprintf("value %q is not a duration; Cluster Autoscaler ignores it, and so does the plan", v), "fix or remove the tag")
		}
	}
	key := "scaledownutilizationthreshold"
	if gpu {
		key = "scaledowngpuutilizationthreshold"
	}
	if v, ok := opts[key]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
			threshold = f
		} else {
			c.finding(plan.SeverityWarn, "autoscaling-option", "asg.tags[k8s.io/cluster-autoscaler/node-template/autoscaling-options/"+key+"]",
				fmt.Sprintf("value %q is not a fraction between 0 and 1; ignored", v), "fix or remove the tag")
		}
	}
	d := karpenter.Disruption{ConsolidateAfter: karpenterDuration(unneeded), ConsolidationPolicy: "WhenEmptyOrUnderutilized"}
	if !enabled {
		d.ConsolidateAfter = "Never"
	}
	switch {
	case threshold <= 0.1:
		d.ConsolidationPolicy = "WhenEmpty"
	case threshold < 0.5 && enabled:
		c.finding(plan.SeverityInfo, "consolidation-threshold", "clusterAutoscaler.flags.scaleDownUtilizationThreshold",
			fmt.Sprintf("Cluster Autoscaler removed nodes only below %.0f%% utilisation; Karpenter consolidates whenever the pods fit elsewhere more cheaply", threshold*100),
			"if that is too eager, use consolidationPolicy WhenEmpty or a tighter budget")
	}
	d.Budgets = []karpenter.Budget{{Nodes: "10%"}}
	if c.ng != nil && c.ng.UpdateConfig != nil {
		u := c.ng.UpdateConfig
		switch {
		case u.MaxUnavailable != nil && *u.MaxUnavailable > 0:
			d.Budgets = append(d.Budgets, karpenter.Budget{Nodes: strconv.Itoa(int(*u.MaxUnavailable)), Reasons: []string{"Drifted"}})
		case u.MaxUnavailablePercentage != nil && *u.MaxUnavailablePercentage > 0 && *u.MaxUnavailablePercentage <= 100:
			d.Budgets = append(d.Budgets, karpenter.Budget{Nodes: fmt.Sprintf("%d%%", *u.MaxUnavailablePercentage), Reasons: []string{"Drifted"}})
		}
	}
	if o := c.t.o; o.FreezeSchedule != "" {
		d.Budgets = append(d.Budgets, karpenter.Budget{Nodes: "0", Schedule: o.FreezeSchedule, Duration: o.FreezeFor})
	}
	c.spec.Disruption = d

	c.spec.ExpireAfter, c.spec.defaultExpire = "720h", true
	if c.asg != nil && c.asg.MaxInstanceLifetime != nil && *c.asg.MaxInstanceLifetime > 0 {
		c.spec.ExpireAfter, c.spec.defaultExpire = lifetime(int64(*c.asg.MaxInstanceLifetime)), false
	}
}

// karpenterDuration renders a duration as Karpenter's ([0-9]+(s|m|h))+ form, rounded to
// whole seconds: 10m, 1h30m, 90s, 0s.
func karpenterDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	out := ""
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	if s > 0 {
		out += fmt.Sprintf("%ds", s)
	}
	return out
}

// lifetime renders MaxInstanceLifetime seconds: whole hours as "<n>h", else "<n>s".
func lifetime(sec int64) string {
	if sec%3600 == 0 {
		return fmt.Sprintf("%dh", sec/3600)
	}
	return fmt.Sprintf("%ds", sec)
}
