//go:build e2e

package scenarios

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const (
	account   = "123456789012" // moto's default account
	region    = "us-west-2"
	motoAMI   = "ami-12c6146b" // one of moto's built-in images
	k8sMinor  = "1.32"
	nodeRole  = "KarpshiftE2ENodeRole"
	releaseV  = "1.32.0-20250115"
	imageCA   = "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1"
	imageKarp = "public.ecr.aws/karpenter/controller:1.15.0"
)

var zones = []string{"us-west-2a", "us-west-2b", "us-west-2c"}

// groupSpec is one group of a fixture cluster: an EKS managed node group (with the Auto
// Scaling group moto does not make behind it) or a self-managed Auto Scaling group.
type groupSpec struct {
	Name              string
	Managed           bool
	InstanceTypes     []string
	Spot              bool
	Min, Max, Desired int32
	// Labels are node labels: the node group's labels, or for a self-managed group what
	// its bootstrap registers (and its CA node-template tags say).
	Labels map[string]string
	Taints []ekstypes.Taint
	// Priority is the group's priority-expander priority (0: matched by the ".*" entry).
	Priority int
}

// awsFixture is what buildAWS made in moto.
type awsFixture struct {
	Cluster string
	Subnets []string
	SG      string
	// ASG maps each group to its Auto Scaling group name.
	ASG   map[string]string
	Queue string
}

// awsConfig is an SDK configuration for moto at endpoint.
func awsConfig(endpoint string, client *http.Client) aws.Config {
	cfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	if client != nil {
		cfg.HTTPClient = client
	}
	return cfg
}

// buildAWS creates the cluster's AWS side in moto through the SDK: VPC, subnets and a
// security group tagged for Karpenter discovery, the node role, the EKS cluster, one
// launch template per group, the managed node groups and an Auto Scaling group behind
// each (tagged as EKS tags them, and for Cluster Autoscaler's auto-discovery), the
// self-managed Auto Scaling groups, and the SQS interruption queue.
func buildAWS(ctx context.Context, cfg aws.Config, cluster string, groups []groupSpec) (*awsFixture, error) {
	ec := ec2.NewFromConfig(cfg)
	ekc := eks.NewFromConfig(cfg)
	asc := autoscaling.NewFromConfig(cfg)
	fx := &awsFixture{Cluster: cluster, ASG: map[string]string{}}
	discovery := []ec2types.Tag{{Key: aws.String("karpenter.sh/discovery"), Value: aws.String(cluster)}}

	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		return nil, fmt.Errorf("creating VPC: %w", err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	for i, zone := range zones {
		sn, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), AvailabilityZone: aws.String(zone),
			CidrBlock:         aws.String(fmt.Sprintf("10.0.%d.0/20", i*16)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSubnet, Tags: discovery}}})
		if err != nil {
			return nil, fmt.Errorf("creating subnet in %s: %w", zone, err)
		}
		fx.Subnets = append(fx.Subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	sg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("nodes"), Description: aws.String("nodes"), VpcId: aws.String(vpcID),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: discovery}}})
	if err != nil {
		return nil, fmt.Errorf("creating security group: %w", err)
	}
	fx.SG = aws.ToString(sg.GroupId)

	im := iam.NewFromConfig(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if _, err := im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(nodeRole), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		return nil, fmt.Errorf("creating the node role: %w", err)
	}
	if _, err := im.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(nodeRole)}); err != nil {
		return nil, fmt.Errorf("creating the node instance profile: %w", err)
	}
	if _, err := im.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(nodeRole), RoleName: aws.String(nodeRole)}); err != nil {
		return nil, fmt.Errorf("adding the node role to its instance profile: %w", err)
	}

	if _, err := ekc.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(cluster), Version: aws.String(k8sMinor),
		RoleArn:            aws.String("arn:aws:iam::" + account + ":role/eks-cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: fx.Subnets, SecurityGroupIds: []string{fx.SG}},
		AccessConfig:       &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap},
	}); err != nil {
		return nil, fmt.Errorf("creating cluster: %w", err)
	}

	if _, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(cluster)}); err != nil {
		return nil, fmt.Errorf("creating the interruption queue: %w", err)
	}
	fx.Queue = cluster

	for _, g := range groups {
		ltData := ec2types.RequestLaunchTemplateData{ImageId: aws.String(motoAMI), InstanceType: ec2types.InstanceType(g.InstanceTypes[0]),
			SecurityGroupIds: []string{fx.SG}}
		if !g.Managed {
			ltData.IamInstanceProfile = &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String(nodeRole)}
			ltData.UserData = aws.String(base64.StdEncoding.EncodeToString([]byte(selfManagedUserData(cluster, g))))
		}
		lt, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(cluster + "-" + g.Name), LaunchTemplateData: &ltData})
		if err != nil {
			return nil, fmt.Errorf("creating the launch template of %s: %w", g.Name, err)
		}
		ltID := aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
		caTags := []asgtypes.Tag{
			asgTag("k8s.io/cluster-autoscaler/enabled", "true", true),
			asgTag("k8s.io/cluster-autoscaler/"+cluster, "owned", true),
		}
		if !g.Managed {
			tags := append(caTags, asgTag("kubernetes.io/cluster/"+cluster, "owned", true), asgTag("Name", cluster+"-"+g.Name, true))
			for _, k := range sortedMapKeys(g.Labels) {
				tags = append(tags, asgTag("k8s.io/cluster-autoscaler/node-template/label/"+k, g.Labels[k], false))
			}
			if _, err := asc.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
				AutoScalingGroupName: aws.String(g.Name),
				MinSize:              aws.Int32(g.Min), MaxSize: aws.Int32(g.Max), DesiredCapacity: aws.Int32(g.Desired),
				VPCZoneIdentifier: aws.String(strings.Join(fx.Subnets, ",")),
				LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")},
				Tags:              tags,
			}); err != nil {
				return nil, fmt.Errorf("creating Auto Scaling group %s: %w", g.Name, err)
			}
			fx.ASG[g.Name] = g.Name
			continue
		}
		capType := ekstypes.CapacityTypesOnDemand
		if g.Spot {
			capType = ekstypes.CapacityTypesSpot
		}
		out, err := ekc.CreateNodegroup(ctx, &eks.CreateNodegroupInput{
			ClusterName: aws.String(cluster), NodegroupName: aws.String(g.Name),
			NodeRole: aws.String("arn:aws:iam::" + account + ":role/" + nodeRole), Subnets: fx.Subnets,
			AmiType: ekstypes.AMITypesAl2023X8664Standard, CapacityType: capType, InstanceTypes: g.InstanceTypes,
			ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(g.Min), MaxSize: aws.Int32(g.Max), DesiredSize: aws.Int32(g.Desired)},
			Labels:        g.Labels, Taints: g.Taints, DiskSize: aws.Int32(20),
			Version: aws.String(k8sMinor), ReleaseVersion: aws.String(releaseV),
		})
		if err != nil {
			return nil, fmt.Errorf("creating node group %s: %w", g.Name, err)
		}
		asgName := aws.ToString(out.Nodegroup.Resources.AutoScalingGroups[0].Name)
		tags := append(caTags, asgTag("eks:cluster-name", cluster, true), asgTag("eks:nodegroup-name", g.Name, true),
			asgTag("kubernetes.io/cluster/"+cluster, "owned", true))
		var overrides []asgtypes.LaunchTemplateOverrides
		for _, it := range g.InstanceTypes {
			overrides = append(overrides, asgtypes.LaunchTemplateOverrides{InstanceType: aws.String(it)})
		}
		in := &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(asgName),
			MinSize:              aws.Int32(g.Min), MaxSize: aws.Int32(g.Max), DesiredCapacity: aws.Int32(g.Desired),
			VPCZoneIdentifier: aws.String(strings.Join(fx.Subnets, ",")),
			Tags:              tags,
		}
		if len(g.InstanceTypes) > 1 {
			in.MixedInstancesPolicy = &asgtypes.MixedInstancesPolicy{LaunchTemplate: &asgtypes.LaunchTemplate{
				LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")},
				Overrides:                   overrides,
			}}
		} else {
			in.LaunchTemplate = &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("$Latest")}
		}
		if _, err := asc.CreateAutoScalingGroup(ctx, in); err != nil {
			return nil, fmt.Errorf("creating the Auto Scaling group of node group %s: %w", g.Name, err)
		}
		fx.ASG[g.Name] = asgName
	}
	return fx, nil
}

// selfManagedUserData is an AL2023 NodeConfig that registers the group's labels.
func selfManagedUserData(cluster string, g groupSpec) string {
	var labels []string
	for _, k := range sortedMapKeys(g.Labels) {
		labels = append(labels, k+"="+g.Labels[k])
	}
	return `MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="BOUNDARY"

--BOUNDARY
Content-Type: application/node.eks.aws

apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: ` + cluster + `
  kubelet:
    flags:
      - --node-labels=` + strings.Join(labels, ",") + `

--BOUNDARY--
`
}

func asgTag(k, v string, propagate bool) asgtypes.Tag {
	return asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(propagate)}
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// groupSizes reads a group's min/max/desired from moto: the node group's scaling config,
// or the Auto Scaling group's.
func groupSizes(ctx context.Context, cfg aws.Config, cluster string, g groupSpec, asgName string) ([3]int32, error) {
	if g.Managed {
		out, err := eks.NewFromConfig(cfg).DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(g.Name)})
		if err != nil {
			return [3]int32{}, err
		}
		sc := out.Nodegroup.ScalingConfig
		return [3]int32{aws.ToInt32(sc.MinSize), aws.ToInt32(sc.MaxSize), aws.ToInt32(sc.DesiredSize)}, nil
	}
	out, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asgName}})
	if err != nil {
		return [3]int32{}, err
	}
	if len(out.AutoScalingGroups) == 0 {
		return [3]int32{}, fmt.Errorf("no Auto Scaling group %s", asgName)
	}
	a := out.AutoScalingGroups[0]
	return [3]int32{aws.ToInt32(a.MinSize), aws.ToInt32(a.MaxSize), aws.ToInt32(a.DesiredCapacity)}, nil
}
