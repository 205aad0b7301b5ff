package awsscan

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

func (s *scanner) describeCluster(ctx context.Context) (snapshot.Cluster, error) {
	out, err := s.c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(s.opts.Cluster)})
	if err != nil {
		return snapshot.Cluster{}, describeClusterError(s.opts.Cluster, s.opts.Region, err)
	}
	if out.Cluster == nil {
		return snapshot.Cluster{}, fmt.Errorf("describing cluster %q: the response has no cluster", s.opts.Cluster)
	}
	return convertCluster(out.Cluster, s.opts.Region), nil
}

func convertCluster(c *ekstypes.Cluster, region string) snapshot.Cluster {
	out := snapshot.Cluster{
		Name:            aws.ToString(c.Name),
		ARN:             aws.ToString(c.Arn),
		Region:          region,
		Version:         aws.ToString(c.Version),
		PlatformVersion: aws.ToString(c.PlatformVersion),
		Endpoint:        aws.ToString(c.Endpoint),
		Status:          string(c.Status),
		Tags:            nonEmptyMap(c.Tags),
	}
	if a, err := arn.Parse(out.ARN); err == nil {
		out.AccountID = a.AccountID
		if out.Region == "" {
			out.Region = a.Region
		}
	}
	if v := c.ResourcesVpcConfig; v != nil {
		out.VpcID = aws.ToString(v.VpcId)
		out.SubnetIDs = slices.Clone(v.SubnetIds)
		out.SecurityGroupIDs = slices.Clone(v.SecurityGroupIds)
		out.ClusterSecurityGroupID = aws.ToString(v.ClusterSecurityGroupId)
	}
	if c.AccessConfig != nil {
		out.AuthenticationMode = string(c.AccessConfig.AuthenticationMode)
	}
	if c.Identity != nil && c.Identity.Oidc != nil {
		out.OIDCIssuer = aws.ToString(c.Identity.Oidc.Issuer)
	}
	return out
}

// nodegroups lists and describes every managed node group, DescribeNodegroup calls in
// parallel. A group deleted between the list and the describe is a warning.
func (s *scanner) nodegroups(ctx context.Context) ([]snapshot.Nodegroup, error) {
	const what = "managed node groups were not read"
	var names []string
	p := eks.NewListNodegroupsPaginator(s.c.EKS, &eks.ListNodegroupsInput{ClusterName: aws.String(s.opts.Cluster)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.optional("eks:ListNodegroups", fmt.Sprintf("listing nodegroups of cluster %q", s.opts.Cluster), what, err)
		}
		names = append(names, out.Nodegroups...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	got := make([]*snapshot.Nodegroup, len(names))
	err := forEach(ctx, s.conc, names, func(ctx context.Context, i int, name string) error {
		out, err := s.c.EKS.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{
			ClusterName: aws.String(s.opts.Cluster), NodegroupName: aws.String(name),
		})
		if awsapi.Classify(err) == awsapi.ErrNotFound {
			s.warnf("nodegroup %q disappeared during the scan", name)
			return nil
		}
		if err != nil {
			return s.optional("eks:DescribeNodegroup", fmt.Sprintf("describing nodegroup %q", name), what, err)
		}
		if out.Nodegroup != nil {
			ng := convertNodegroup(out.Nodegroup)
			got[i] = &ng
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var ngs []snapshot.Nodegroup
	for _, ng := range got {
		if ng != nil {
			ngs = append(ngs, *ng)
		}
	}
	return ngs, nil
}

// convertNodegroup copies every DescribeNodegroup field of karpenter-mapping.md §2.1.
func convertNodegroup(n *ekstypes.Nodegroup) snapshot.Nodegroup {
	ng := snapshot.Nodegroup{
		Name:           aws.ToString(n.NodegroupName),
		ARN:            aws.ToString(n.NodegroupArn),
		Status:         string(n.Status),
		AmiType:        string(n.AmiType),
		ReleaseVersion: aws.ToString(n.ReleaseVersion),
		Version:        aws.ToString(n.Version),
		CapacityType:   string(n.CapacityType),
		InstanceTypes:  slices.Clone(n.InstanceTypes), // order kept: on-demand MNGs use it as priority
		Labels:         nonEmptyMap(n.Labels),
		DiskSize:       n.DiskSize,
		Subnets:        slices.Clone(n.Subnets),
		NodeRole:       aws.ToString(n.NodeRole),
		Tags:           nonEmptyMap(n.Tags),
	}
	for _, t := range n.Taints {
		ng.Taints = append(ng.Taints, snapshot.NodegroupTaint{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value), Effect: string(t.Effect)})
	}
	if lt := n.LaunchTemplate; lt != nil {
		ng.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: aws.ToString(lt.Id), Name: aws.ToString(lt.Name), Version: aws.ToString(lt.Version)}
	}
	if sc := n.ScalingConfig; sc != nil {
		ng.Scaling = snapshot.ScalingConfig{MinSize: aws.ToInt32(sc.MinSize), MaxSize: aws.ToInt32(sc.MaxSize), DesiredSize: aws.ToInt32(sc.DesiredSize)}
	}
	if u := n.UpdateConfig; u != nil {
		ng.UpdateConfig = &snapshot.UpdateConfig{
			MaxUnavailable: u.MaxUnavailable, MaxUnavailablePercentage: u.MaxUnavailablePercentage, UpdateStrategy: string(u.UpdateStrategy),
		}
	}
	if ra := n.RemoteAccess; ra != nil && (ra.Ec2SshKey != nil || len(ra.SourceSecurityGroups) > 0) {
		ng.RemoteAccess = &snapshot.RemoteAccess{Ec2SshKey: aws.ToString(ra.Ec2SshKey), SourceSecurityGroups: slices.Clone(ra.SourceSecurityGroups)}
	}
	if r := n.Resources; r != nil {
		ng.RemoteAccessSecurityGroup = aws.ToString(r.RemoteAccessSecurityGroup)
		for _, g := range r.AutoScalingGroups {
			if name := aws.ToString(g.Name); name != "" {
				ng.ASGNames = append(ng.ASGNames, name)
			}
		}
	}
	if h := n.Health; h != nil {
		for _, is := range h.Issues {
			msg := string(is.Code)
			if m := aws.ToString(is.Message); m != "" {
				msg += ": " + m
			}
			if len(is.ResourceIds) > 0 {
				msg += " (" + strings.Join(is.ResourceIds, ", ") + ")"
			}
			ng.HealthIssues = append(ng.HealthIssues, msg)
		}
	}
	if n.NodeRepairConfig != nil {
		ng.NodeRepairEnabled = n.NodeRepairConfig.Enabled
	}
	if n.WarmPoolConfig != nil {
		ng.WarmPoolEnabled = n.WarmPoolConfig.Enabled
	}
	return ng
}

// fargateProfiles lists and describes the cluster's Fargate profiles.
func (s *scanner) fargateProfiles(ctx context.Context) ([]snapshot.FargateProfile, error) {
	const what = "Fargate profiles were not read"
	var names []string
	p := eks.NewListFargateProfilesPaginator(s.c.EKS, &eks.ListFargateProfilesInput{ClusterName: aws.String(s.opts.Cluster)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.optional("eks:ListFargateProfiles", fmt.Sprintf("listing Fargate profiles of cluster %q", s.opts.Cluster), what, err)
		}
		names = append(names, out.FargateProfileNames...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	got := make([]*snapshot.FargateProfile, len(names))
	err := forEach(ctx, s.conc, names, func(ctx context.Context, i int, name string) error {
		out, err := s.c.EKS.DescribeFargateProfile(ctx, &eks.DescribeFargateProfileInput{
			ClusterName: aws.String(s.opts.Cluster), FargateProfileName: aws.String(name),
		})
		if awsapi.Classify(err) == awsapi.ErrNotFound {
			s.warnf("Fargate profile %q disappeared during the scan", name)
			return nil
		}
		if err != nil {
			return s.optional("eks:DescribeFargateProfile", fmt.Sprintf("describing Fargate profile %q", name), what, err)
		}
		if fp := out.FargateProfile; fp != nil {
			p := snapshot.FargateProfile{
				Name:                aws.ToString(fp.FargateProfileName),
				Status:              string(fp.Status),
				Subnets:             slices.Clone(fp.Subnets),
				PodExecutionRoleARN: aws.ToString(fp.PodExecutionRoleArn),
			}
			for _, sel := range fp.Selectors {
				p.Selectors = append(p.Selectors, snapshot.FargateSelector{Namespace: aws.ToString(sel.Namespace), Labels: nonEmptyMap(sel.Labels)})
			}
			got[i] = &p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []snapshot.FargateProfile
	for _, p := range got {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

func nonEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
