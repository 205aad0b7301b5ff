package awsscan

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

const (
	versionDefault = "$Default"
	versionLatest  = "$Latest"
)

// ltKey names a launch template the way a group refers to it: by id when it has one,
// else by name.
type ltKey struct{ id, name string }

func (k ltKey) String() string {
	if k.id != "" {
		return k.id
	}
	return fmt.Sprintf("%q", k.name)
}

// launchTemplateRefs collects every launch template version a nodegroup, an ASG or a
// mixed instances policy (base and overrides) refers to.
func launchTemplateRefs(groups []snapshot.Group) map[ltKey][]string {
	refs := map[ltKey][]string{}
	add := func(r *snapshot.LaunchTemplateRef) {
		if r == nil || (r.ID == "" && r.Name == "") {
			return
		}
		k := ltKey{id: r.ID}
		if k.id == "" {
			k.name = r.Name
		}
		v := cmp.Or(r.Version, versionDefault)
		if !slices.Contains(refs[k], v) {
			refs[k] = append(refs[k], v)
		}
	}
	for _, g := range groups {
		if g.Nodegroup != nil {
			add(g.Nodegroup.LaunchTemplate)
		}
		if a := g.ASG; a != nil {
			add(a.LaunchTemplate)
			if m := a.MixedInstancesPolicy; m != nil {
				add(&m.LaunchTemplate)
				for _, o := range m.Overrides {
					add(o.LaunchTemplate)
				}
			}
		}
	}
	for k := range refs {
		slices.Sort(refs[k])
	}
	return refs
}

// launchTemplates resolves every referenced launch template version, one
// DescribeLaunchTemplateVersions call per template, in parallel.
func (s *scanner) launchTemplates(ctx context.Context, groups []snapshot.Group) ([]snapshot.LaunchTemplate, error) {
	refs := launchTemplateRefs(groups)
	keys := slices.SortedFunc(maps.Keys(refs), func(a, b ltKey) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.name, b.name))
	})
	got := make([][]snapshot.LaunchTemplate, len(keys))
	err := forEach(ctx, s.conc, keys, func(ctx context.Context, i int, k ltKey) error {
		lts, err := s.resolveLaunchTemplate(ctx, k, refs[k])
		got[i] = lts
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []snapshot.LaunchTemplate
	seen := map[[3]string]bool{}
	for _, lts := range got {
		for _, lt := range lts {
			key := [3]string{lt.ID, lt.Version, lt.Requested}
			if !seen[key] {
				seen[key] = true
				out = append(out, lt)
			}
		}
	}
	return out, nil
}

func (s *scanner) resolveLaunchTemplate(ctx context.Context, k ltKey, versions []string) ([]snapshot.LaunchTemplate, error) {
	found, err := s.describeLTVersions(ctx, k, versions)
	if awsapi.Classify(err) == awsapi.ErrNotFound && len(versions) > 1 {
		// One bad version fails the whole call: ask for each version alone.
		found, err = nil, nil
		for _, v := range versions {
			f, verr := s.describeLTVersions(ctx, k, []string{v})
			if awsapi.Classify(verr) == awsapi.ErrNotFound {
				s.warnf("launch template %s version %s: %s", k, v, awsapi.ErrorMessage(verr))
				continue
			}
			if verr != nil {
				err = verr
				break
			}
			found = append(found, f...)
		}
	} else if awsapi.Classify(err) == awsapi.ErrNotFound {
		s.warnf("launch template %s version %s: %s", k, versions[0], awsapi.ErrorMessage(err))
		return nil, nil
	}
	if err != nil {
		return nil, s.optional("ec2:DescribeLaunchTemplateVersions", fmt.Sprintf("describing launch template %s", k),
			"launch templates were not read", err)
	}
	var out []snapshot.LaunchTemplate
	for _, req := range versions {
		v, ok := pickVersion(found, req)
		if !ok {
			continue // already warned above, or not returned
		}
		lt := convertLaunchTemplate(v, s.warnf)
		if lt.Version != req {
			lt.Requested = req
		}
		out = append(out, lt)
	}
	return out, nil
}

func (s *scanner) describeLTVersions(ctx context.Context, k ltKey, versions []string) ([]ec2types.LaunchTemplateVersion, error) {
	in := &ec2.DescribeLaunchTemplateVersionsInput{Versions: versions}
	if k.id != "" {
		in.LaunchTemplateId = aws.String(k.id)
	} else {
		in.LaunchTemplateName = aws.String(k.name)
	}
	var out []ec2types.LaunchTemplateVersion
	p := ec2.NewDescribeLaunchTemplateVersionsPaginator(s.c.EC2, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.LaunchTemplateVersions...)
	}
	return out, nil
}

// pickVersion finds the version a request resolved to: a number, $Default (the one
// flagged default) or $Latest (the highest number; $Latest is the newest version and
// the response holds only requested versions).
func pickVersion(vs []ec2types.LaunchTemplateVersion, req string) (ec2types.LaunchTemplateVersion, bool) {
	var best *ec2types.LaunchTemplateVersion
	for i := range vs {
		v := &vs[i]
		switch req {
		case versionDefault:
			if aws.ToBool(v.DefaultVersion) {
				return *v, true
			}
		case versionLatest:
			if best == nil || aws.ToInt64(v.VersionNumber) > aws.ToInt64(best.VersionNumber) {
				best = v
			}
		default:
			if strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10) == req {
				return *v, true
			}
		}
	}
	if best != nil {
		return *best, true
	}
	return ec2types.LaunchTemplateVersion{}, false
}
