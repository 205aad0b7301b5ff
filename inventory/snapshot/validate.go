package snapshot

import (
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var validEKSEffects = map[string]bool{"NO_SCHEDULE": true, "NO_EXECUTE": true, "PREFER_NO_SCHEDULE": true}

// Validate checks that a snapshot is internally consistent. Every error names the
// field path (groups[2].nodegroup.scalingConfig.maxSize, ...).
func Validate(s *Snapshot) field.ErrorList {
	var errs field.ErrorList
	if s.Cluster.Name == "" {
		errs = append(errs, field.Required(field.NewPath("cluster", "name"), "the cluster name"))
	}
	groups := map[string]bool{}
	gp := field.NewPath("groups")
	for i := range s.Groups {
		errs = append(errs, validateGroup(&s.Groups[i], gp.Index(i), groups)...)
	}
	lts := map[[2]string]bool{}
	for i, lt := range s.LaunchTemplates {
		p := field.NewPath("launchTemplates").Index(i)
		if lt.ID == "" {
			errs = append(errs, field.Required(p.Child("id"), ""))
		}
		if lt.Version == "" {
			errs = append(errs, field.Required(p.Child("version"), ""))
		}
		k := [2]string{lt.ID, lt.Requested + "|" + lt.Version}
		if lts[k] {
			errs = append(errs, field.Duplicate(p, lt.ID+"@"+lt.Version))
		}
		lts[k] = true
	}
	subnets := map[string]bool{}
	for i, sn := range s.Subnets {
		p := field.NewPath("subnets").Index(i)
		if sn.ID == "" {
			errs = append(errs, field.Required(p.Child("id"), ""))
		}
		if subnets[sn.ID] {
			errs = append(errs, field.Duplicate(p.Child("id"), sn.ID))
		}
		subnets[sn.ID] = true
	}
	types := map[string]bool{}
	for i, it := range s.InstanceTypes {
		p := field.NewPath("instanceTypes").Index(i)
		switch {
		case it.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case types[it.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), it.Name))
		}
		types[it.Name] = true
		if it.VCPU < 0 {
			errs = append(errs, field.Invalid(p.Child("vcpu"), it.VCPU, "must not be negative"))
		}
		if it.MemoryMiB < 0 {
			errs = append(errs, field.Invalid(p.Child("memoryMiB"), it.MemoryMiB, "must not be negative"))
		}
		if it.OnDemandPrice < 0 || it.SpotPrice < 0 {
			errs = append(errs, field.Invalid(p.Child("onDemandPrice"), it.OnDemandPrice, "prices must not be negative"))
		}
	}
	nodes := map[string]bool{}
	for i, n := range s.Nodes {
		p := field.NewPath("nodes").Index(i)
		if n.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if nodes[n.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), n.Name))
		}
		nodes[n.Name] = true
		if n.Group != "" && !groups[n.Group] {
			errs = append(errs, field.NotFound(p.Child("group"), n.Group))
		}
	}
	pods := map[string]bool{}
	for i, pod := range s.Pods {
		p := field.NewPath("pods").Index(i)
		if pod.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
		if pod.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if pods[pod.Key()] {
			errs = append(errs, field.Duplicate(p, pod.Key()))
		}
		pods[pod.Key()] = true
		for r, q := range pod.Requests {
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(p.Child("requests").Key(string(r)), q.String(), "must not be negative"))
			}
		}
	}
	for i, pdb := range s.PDBs {
		p := field.NewPath("podDisruptionBudgets").Index(i)
		if pdb.MinAvailable != nil && pdb.MaxUnavailable != nil {
			errs = append(errs, field.Invalid(p, pdb.Name, "minAvailable and maxUnavailable are mutually exclusive"))
		}
	}
	if a := s.Autoscaler; a != nil {
		p := field.NewPath("clusterAutoscaler")
		if a.Replicas < 0 {
			errs = append(errs, field.Invalid(p.Child("replicas"), a.Replicas, "must not be negative"))
		}
		for i, n := range a.Flags.Nodes {
			if n.Min > n.Max {
				errs = append(errs, field.Invalid(p.Child("flags", "nodes").Index(i), n, "min is larger than max"))
			}
		}
	}
	return errs
}

func validateGroup(g *Group, p *field.Path, seen map[string]bool) field.ErrorList {
	var errs field.ErrorList
	switch {
	case g.Name == "":
		errs = append(errs, field.Required(p.Child("name"), ""))
	case seen[g.Name]:
		errs = append(errs, field.Duplicate(p.Child("name"), g.Name))
	}
	seen[g.Name] = true
	switch g.Kind {
	case KindManaged:
		if g.Nodegroup == nil {
			errs = append(errs, field.Required(p.Child("nodegroup"), "a managed group needs its nodegroup"))
		}
	case KindSelfManaged:
		if g.ASG == nil {
			errs = append(errs, field.Required(p.Child("asg"), "a self-managed group needs its Auto Scaling group"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), g.Kind, []string{string(KindManaged), string(KindSelfManaged)}))
	}
	if ng := g.Nodegroup; ng != nil {
		sp := p.Child("nodegroup", "scalingConfig")
		errs = append(errs, validateSizes(sp, "minSize", "maxSize", "desiredSize", ng.Scaling.MinSize, ng.Scaling.MaxSize, ng.Scaling.DesiredSize)...)
		for i, t := range ng.Taints {
			tp := p.Child("nodegroup", "taints").Index(i)
			if t.Key == "" {
				errs = append(errs, field.Required(tp.Child("key"), ""))
			}
			if !validEKSEffects[t.Effect] {
				errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, []string{"NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"}))
			}
		}
		if ng.DiskSize != nil && *ng.DiskSize <= 0 {
			errs = append(errs, field.Invalid(p.Child("nodegroup", "diskSize"), *ng.DiskSize, "must be positive"))
		}
	}
	if a := g.ASG; a != nil {
		ap := p.Child("asg")
		if a.Name == "" {
			errs = append(errs, field.Required(ap.Child("name"), ""))
		}
		errs = append(errs, validateSizes(ap, "minSize", "maxSize", "desiredCapacity", a.MinSize, a.MaxSize, a.DesiredCapacity)...)
		if m := a.MixedInstancesPolicy; m != nil && m.Distribution != nil {
			if pct := m.Distribution.OnDemandPercentageAboveBaseCapacity; pct != nil && (*pct < 0 || *pct > 100) {
				errs = append(errs, field.Invalid(ap.Child("mixedInstancesPolicy", "instancesDistribution", "onDemandPercentageAboveBaseCapacity"), *pct, "must be 0-100"))
			}
		}
	}
	return errs
}

func validateSizes(p *field.Path, minName, maxName, desiredName string, lo, hi, desired int32) field.ErrorList {
	var errs field.ErrorList
	if lo < 0 {
		errs = append(errs, field.Invalid(p.Child(minName), lo, "must not be negative"))
	}
	if hi < lo {
		errs = append(errs, field.Invalid(p.Child(maxName), hi, "is smaller than "+minName))
	}
	if desired < lo || desired > hi {
		errs = append(errs, field.Invalid(p.Child(desiredName), desired, "is outside "+minName+".."+maxName))
	}
	return errs
}
