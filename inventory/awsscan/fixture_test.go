package awsscan

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// The create side of the APIs, for the fixture only: the scanner's interfaces
// (awsapi) hold read calls alone.
type (
	fixtureEKS interface {
		CreateCluster(context.Context, *eks.CreateClusterInput, ...func(*eks.Options)) (*eks.CreateClusterOutput, error)
		CreateNodegroup(context.Context, *eks.CreateNodegroupInput, ...func(*eks.Options)) (*eks.CreateNodegroupOutput, error)
		CreateFargateProfile(context.Context, *eks.CreateFargateProfileInput, ...func(*eks.Options)) (*eks.CreateFargateProfileOutput, error)
		UpdateNodegroupConfig(context.Context, *eks.UpdateNodegroupConfigInput, ...func(*eks.Options)) (*eks.UpdateNodegroupConfigOutput, error)
	}
	fixtureEC2 interface {
		CreateVpc(context.Context, *ec2.CreateVpcInput, ...func(*ec2.Options)) (*ec2.CreateVpcOutput, error)
		CreateSubnet(context.Context, *ec2.CreateSubnetInput, ...func(*ec2.Options)) (*ec2.CreateSubnetOutput, error)
		CreateSecurityGroup(context.Context, *ec2.CreateSecurityGroupInput, ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
		CreateLaunchTemplate(context.Context, *ec2.CreateLaunchTemplateInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error)
		CreateLaunchTemplateVersion(context.Context, *ec2.CreateLaunchTemplateVersionInput, ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error)
	}
	fixtureASG interface {
		CreateAutoScalingGroup(context.Context, *autoscaling.CreateAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.CreateAutoScalingGroupOutput, error)
	}
)

const (
	fixtureCluster = "prod"
	fixtureAMI     = "ami-12c6146b" // one of moto's built-in images
	fixtureAccount = "123456789012" // moto's default account
)

// fixture is what the builder created; ids maps every random id moto assigned to a
// stable name, for the golden file.
type fixture struct {
	subnets []string
	ids     map[string]string
}

// nodeConfigUserData is an AL2023 MIME multi-part user data with a NodeConfig.
const nodeConfigUserData = `MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="BOUNDARY"

--BOUNDARY
Content-Type: application/node.eks.aws

apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  kubelet:
    config:
      maxPods: 58
    flags:
      - --node-labels=team=payments

--BOUNDARY--
`

// buildFixture creates the cluster of the integration test through the real SDK.
func buildFixture(ctx context.Context, cfg aws.Config, endpoint string) (*fixture, error) {
	var (
		ekc fixtureEKS = eks.NewFromConfig(cfg)
		ec  fixtureEC2 = ec2.NewFromConfig(cfg)
		asc fixtureASG = autoscaling.NewFromConfig(cfg)
	)
	fx := &fixture{ids: map[string]string{}}

	vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		return nil, fmt.Errorf("creating VPC: %w", err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	fx.ids[vpcID] = "vpc-fixture"
	for i, zone := range []string{"us-west-2a", "us-west-2b", "us-west-2c"} {
		sn, err := ec.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), AvailabilityZone: aws.String(zone),
			CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i+1))})
		if err != nil {
			return nil, fmt.Errorf("creating subnet in %s: %w", zone, err)
		}
		id := aws.ToString(sn.Subnet.SubnetId)
		fx.subnets = append(fx.subnets, id)
		fx.ids[id] = "subnet-" + zone
	}
	sg, err := ec.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("nodes"), Description: aws.String("nodes"), VpcId: aws.String(vpcID)})
	if err != nil {
		return nil, fmt.Errorf("creating security group: %w", err)
	}
	sgID := aws.ToString(sg.GroupId)
	fx.ids[sgID] = "sg-nodes"

	if _, err := ekc.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(fixtureCluster), Version: aws.String("1.31"),
		RoleArn:            aws.String("arn:aws:iam::" + fixtureAccount + ":role/eks-cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: fx.subnets, SecurityGroupIds: []string{sgID}},
		AccessConfig:       &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap},
		Tags:               map[string]string{"team": "platform"},
	}); err != nil {
		return nil, fmt.Errorf("creating cluster: %w", err)
	}

	// Launch templates.
	lt := func(name string, data ec2types.RequestLaunchTemplateData) (string, error) {
		out, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name), LaunchTemplateData: &data})
		if err != nil {
			return "", fmt.Errorf("creating launch template %s: %w", name, err)
		}
		id := aws.ToString(out.LaunchTemplate.LaunchTemplateId)
		fx.ids[id] = "lt-" + name
		return id, nil
	}
	customLT, err := lt("custom", ec2types.RequestLaunchTemplateData{
		ImageId: aws.String(fixtureAMI), InstanceType: "c5.large",
		UserData:         aws.String(base64.StdEncoding.EncodeToString([]byte(nodeConfigUserData))),
		SecurityGroupIds: []string{sgID},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{
			DeviceName: aws.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: aws.Int32(100), VolumeType: ec2types.VolumeTypeGp3,
				Iops: aws.Int32(3000), Throughput: aws.Int32(125), Encrypted: aws.Bool(true), DeleteOnTermination: aws.Bool(true)},
		}},
		MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{
			HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2),
			HttpEndpoint: ec2types.LaunchTemplateInstanceMetadataEndpointStateEnabled,
		},
	})
	if err != nil {
		return nil, err
	}
	mngLT := map[string]string{} // nodegroup → the LT its ASG launches from
	for ng, typ := range map[string]string{"general": "m5.large", "spot-arm": "m6g.large", "gpu": "g5.xlarge"} {
		if mngLT[ng], err = lt("eks-"+ng, ec2types.RequestLaunchTemplateData{ImageId: aws.String(fixtureAMI), InstanceType: ec2types.InstanceType(typ)}); err != nil {
			return nil, err
		}
	}
	mngLT["custom-lt"] = customLT
	mixedLT, err := lt("sm-mixed", ec2types.RequestLaunchTemplateData{ImageId: aws.String(fixtureAMI)})
	if err != nil {
		return nil, err
	}
	if _, err := ec.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{LaunchTemplateId: aws.String(mixedLT),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(fixtureAMI), KeyName: aws.String("ops")}}); err != nil {
		return nil, fmt.Errorf("creating launch template version: %w", err)
	}
	armLT, err := lt("sm-arm", ec2types.RequestLaunchTemplateData{ImageId: aws.String(fixtureAMI), EbsOptimized: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	gpuLT, err := lt("sm-gpu", ec2types.RequestLaunchTemplateData{ImageId: aws.String(fixtureAMI), InstanceType: "g5.xlarge"})
	if err != nil {
		return nil, err
	}

	// Managed node groups, each with the ASG moto does not create.
	nodeRole := aws.String("arn:aws:iam::" + fixtureAccount + ":role/eks-node")
	scaling := func(lo, hi, desired int32) *ekstypes.NodegroupScalingConfig {
		return &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(lo), MaxSize: aws.Int32(hi), DesiredSize: aws.Int32(desired)}
	}
	nodegroups := []eks.CreateNodegroupInput{
		{NodegroupName: aws.String("general"), AmiType: ekstypes.AMITypesAl2023X8664Standard, CapacityType: ekstypes.CapacityTypesOnDemand,
			InstanceTypes: []string{"m5.large", "m5.xlarge"}, ScalingConfig: scaling(1, 6, 2), DiskSize: aws.Int32(50),
			Labels: map[string]string{"role": "general"}, UpdateConfig: &ekstypes.NodegroupUpdateConfig{MaxUnavailable: aws.Int32(1)}},
		{NodegroupName: aws.String("spot-arm"), AmiType: ekstypes.AMITypesBottlerocketArm64, CapacityType: ekstypes.CapacityTypesSpot,
			InstanceTypes: []string{"m6g.large", "m7g.large"}, ScalingConfig: scaling(0, 10, 1),
			Labels: map[string]string{"arch": "arm64", "lifecycle": "spot"},
			Taints: []ekstypes.Taint{
				{Key: aws.String("dedicated"), Value: aws.String("arm"), Effect: ekstypes.TaintEffectNoSchedule},
				{Key: aws.String("spot"), Value: aws.String(""), Effect: ekstypes.TaintEffectPreferNoSchedule},
			},
			UpdateConfig: &ekstypes.NodegroupUpdateConfig{MaxUnavailablePercentage: aws.Int32(33)}},
		{NodegroupName: aws.String("gpu"), AmiType: ekstypes.AMITypesAl2023X8664Nvidia, CapacityType: ekstypes.CapacityTypesOnDemand,
			InstanceTypes: []string{"g5.xlarge"}, ScalingConfig: scaling(0, 4, 1), Labels: map[string]string{"accelerator": "nvidia"},
			Taints: []ekstypes.Taint{{Key: aws.String("nvidia.com/gpu"), Value: aws.String("true"), Effect: ekstypes.TaintEffectNoSchedule}}},
		{NodegroupName: aws.String("custom-lt"), ScalingConfig: scaling(1, 3, 1),
			LaunchTemplate: &ekstypes.LaunchTemplateSpecification{Id: aws.String(customLT), Version: aws.String("1")}},
	}
	for _, in := range nodegroups {
		in.ClusterName, in.NodeRole, in.Subnets, in.Version = aws.String(fixtureCluster), nodeRole, fx.subnets, aws.String("1.31")
		out, err := ekc.CreateNodegroup(ctx, &in)
		if err != nil {
			return nil, fmt.Errorf("creating nodegroup %s: %w", aws.ToString(in.NodegroupName), err)
		}
		ng := out.Nodegroup
		name := aws.ToString(ng.NodegroupName)
		if in.UpdateConfig != nil {
			// moto drops updateConfig on create; UpdateNodegroupConfig stores it.
			if _, err := ekc.UpdateNodegroupConfig(ctx, &eks.UpdateNodegroupConfigInput{ClusterName: in.ClusterName,
				NodegroupName: in.NodegroupName, UpdateConfig: in.UpdateConfig}); err != nil {
				return nil, fmt.Errorf("setting the update config of nodegroup %s: %w", name, err)
			}
		}
		asgName := aws.ToString(ng.Resources.AutoScalingGroups[0].Name)
		fx.ids[strings.TrimPrefix(asgName, "eks-")] = name + "-uuid" // also in the nodegroup ARN
		fx.ids[aws.ToString(ng.Resources.RemoteAccessSecurityGroup)] = "sg-remote-" + name
		if _, err := asc.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(asgName),
			MinSize:              ng.ScalingConfig.MinSize, MaxSize: ng.ScalingConfig.MaxSize, DesiredCapacity: ng.ScalingConfig.DesiredSize,
			VPCZoneIdentifier: aws.String(strings.Join(fx.subnets, ",")),
			LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(mngLT[name]), Version: aws.String("$Latest")},
			Tags: []asgtypes.Tag{
				asgTag("eks:cluster-name", fixtureCluster, true), asgTag("eks:nodegroup-name", name, true),
				asgTag("k8s.io/cluster-autoscaler/enabled", "true", true), asgTag("k8s.io/cluster-autoscaler/"+fixtureCluster, "owned", true),
			},
		}); err != nil {
			return nil, fmt.Errorf("creating the ASG of nodegroup %s: %w", name, err)
		}
	}

	// Self-managed ASGs.
	tg, err := createTargetGroup(ctx, cfg, endpoint, vpcID)
	if err != nil {
		return nil, err
	}
	fx.ids[tg] = "arn:aws:elasticloadbalancing:us-west-2:" + fixtureAccount + ":targetgroup/web/fixture"
	selfManaged := []autoscaling.CreateAutoScalingGroupInput{
		{AutoScalingGroupName: aws.String("sm-mixed"), MinSize: aws.Int32(0), MaxSize: aws.Int32(10), DesiredCapacity: aws.Int32(3),
			CapacityRebalance: aws.Bool(true),
			MixedInstancesPolicy: &asgtypes.MixedInstancesPolicy{
				LaunchTemplate: &asgtypes.LaunchTemplate{
					LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(mixedLT), Version: aws.String("$Latest")},
					Overrides: []asgtypes.LaunchTemplateOverrides{
						{InstanceType: aws.String("m5.large")},
						{InstanceType: aws.String("m5a.large"), WeightedCapacity: aws.String("1")},
						{InstanceType: aws.String("m6g.large"), LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{
							LaunchTemplateName: aws.String("sm-arm"), Version: aws.String("$Default")}},
					},
				},
				InstancesDistribution: &asgtypes.InstancesDistribution{
					OnDemandBaseCapacity: aws.Int32(2), OnDemandPercentageAboveBaseCapacity: aws.Int32(25),
					SpotAllocationStrategy: aws.String("price-capacity-optimized"),
				},
			},
			Tags: []asgtypes.Tag{asgTag("k8s.io/cluster-autoscaler/enabled", "true", false), asgTag("k8s.io/cluster-autoscaler/"+fixtureCluster, "owned", false),
				asgTag("kubernetes.io/cluster/"+fixtureCluster, "owned", true)}},
		{AutoScalingGroupName: aws.String("sm-gpu"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(0),
			LaunchTemplate:      &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(gpuLT)},
			MaxInstanceLifetime: aws.Int32(604800), TargetGroupARNs: []string{tg},
			Tags: []asgtypes.Tag{
				asgTag("kubernetes.io/cluster/"+fixtureCluster, "owned", true),
				asgTag("k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present", "true", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu", "true:NoSchedule", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/taint/dedicated", ":NoExecute", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/taint/broken", "NoSchedule", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage", "100G", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime", "5m0s", false),
				asgTag("k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownutilizationthreshold", "0.4", false),
			}},
		{AutoScalingGroupName: aws.String("sm-legacy"), MinSize: aws.Int32(0), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(1),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("sm-mixed"), Version: aws.String("1")},
			Tags:           []asgtypes.Tag{asgTag("kubernetes.io/cluster/"+fixtureCluster, "owned", true)}},
		{AutoScalingGroupName: aws.String("unrelated"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(armLT)}},
	}
	for _, in := range selfManaged {
		in.VPCZoneIdentifier = aws.String(strings.Join(fx.subnets, ","))
		if _, err := asc.CreateAutoScalingGroup(ctx, &in); err != nil {
			return nil, fmt.Errorf("creating ASG %s: %w", aws.ToString(in.AutoScalingGroupName), err)
		}
	}

	if _, err := ekc.CreateFargateProfile(ctx, &eks.CreateFargateProfileInput{
		ClusterName: aws.String(fixtureCluster), FargateProfileName: aws.String("system"),
		PodExecutionRoleArn: aws.String("arn:aws:iam::" + fixtureAccount + ":role/fargate-pods"),
		Subnets:             fx.subnets[:2],
		Selectors: []ekstypes.FargateProfileSelector{
			{Namespace: aws.String("kube-system"), Labels: map[string]string{"k8s-app": "kube-dns"}},
			{Namespace: aws.String("batch")},
		},
	}); err != nil {
		return nil, fmt.Errorf("creating Fargate profile: %w", err)
	}
	return fx, nil
}

func asgTag(k, v string, propagate bool) asgtypes.Tag {
	return asgtypes.Tag{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(propagate)}
}

var targetGroupARN = regexp.MustCompile(`<TargetGroupArn>([^<]+)</TargetGroupArn>`)

// createTargetGroup creates an ELBv2 target group (moto checks that an ASG's target
// groups exist). It is the one fixture call not made through an SDK client: the root
// go.mod does not require the elasticloadbalancingv2 module, so it is a query-protocol
// request signed with the SDK's SigV4 signer.
func createTargetGroup(ctx context.Context, cfg aws.Config, endpoint, vpcID string) (string, error) {
	body := url.Values{"Action": {"CreateTargetGroup"}, "Version": {"2015-12-01"}, "Name": {"web"},
		"Protocol": {"HTTP"}, "Port": {"80"}, "VpcId": {vpcID}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "elasticloadbalancing", cfg.Region, time.Now()); err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("creating target group: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := targetGroupARN.FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("creating target group: HTTP %d: %s", resp.StatusCode, b)
	}
	return string(m[1]), nil
}
