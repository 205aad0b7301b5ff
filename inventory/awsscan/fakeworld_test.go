package awsscan

import (
	"encoding/base64"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsapi/fake"
)

// fakeWorld is a cluster "prod" in fakes: four nodegroups (one whose ASG is missing),
// their ASGs, two self-managed ASGs in CA's scope, one ASG of another cluster's
// nodegroup, one unrelated ASG, launch templates with several versions, subnets,
// instances (one spot), instance types and a Fargate profile.
type fakeWorld struct {
	eks *fake.EKS
	asg *fake.AutoScaling
	ec2 *fake.EC2
}

func (w *fakeWorld) clients() awsapi.Clients {
	return awsapi.Clients{EKS: w.eks, AutoScaling: w.asg, EC2: w.ec2}
}

func (w *fakeWorld) reset() {
	w.eks.Reset()
	w.asg.Reset()
	w.ec2.Reset()
}

var fakeSubnets = []string{"subnet-a", "subnet-b", "subnet-c"}

func newFakeWorld() *fakeWorld {
	w := &fakeWorld{eks: fake.NewEKS(), asg: fake.NewAutoScaling(), ec2: fake.NewEC2()}
	// Small pages, so every paginator turns at least one page.
	w.eks.PageSize, w.asg.PageSize, w.ec2.PageSize = 2, 2, 2
	w.populate()
	return w
}

func caTags(cluster string, extra ...asgtypes.TagDescription) []asgtypes.TagDescription {
	return append([]asgtypes.TagDescription{
		tag("k8s.io/cluster-autoscaler/enabled", "true"),
		tag("k8s.io/cluster-autoscaler/"+cluster, "owned"),
	}, extra...)
}

func tag(k, v string) asgtypes.TagDescription {
	return asgtypes.TagDescription{Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(false)}
}

func instance(id, typ string) asgtypes.Instance {
	return asgtypes.Instance{
		InstanceId: aws.String(id), InstanceType: aws.String(typ), AvailabilityZone: aws.String("us-west-2a"),
		LifecycleState: asgtypes.LifecycleStateInService, HealthStatus: aws.String("Healthy"), ProtectedFromScaleIn: aws.Bool(false),
	}
}

func (w *fakeWorld) populate() {
	w.eks.PutCluster(ekstypes.Cluster{
		Name: aws.String("prod"), Arn: aws.String("arn:aws:eks:us-west-2:111122223333:cluster/prod"),
		Version: aws.String("1.31"), PlatformVersion: aws.String("eks.9"), Status: ekstypes.ClusterStatusActive,
		Endpoint: aws.String("https://ABC.gr7.us-west-2.eks.amazonaws.com"),
		ResourcesVpcConfig: &ekstypes.VpcConfigResponse{
			VpcId: aws.String("vpc-1"), SubnetIds: []string{"subnet-c", "subnet-a", "subnet-b"},
			SecurityGroupIds: []string{"sg-extra"}, ClusterSecurityGroupId: aws.String("sg-cluster"),
		},
		AccessConfig: &ekstypes.AccessConfigResponse{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap},
		Identity:     &ekstypes.Identity{Oidc: &ekstypes.OIDC{Issuer: aws.String("https://oidc.eks.us-west-2.amazonaws.com/id/ABC")}},
		Tags:         map[string]string{"team": "platform"},
	})
	ng := func(name, asg string) ekstypes.Nodegroup {
		return ekstypes.Nodegroup{
			ClusterName: aws.String("prod"), NodegroupName: aws.String(name), Status: ekstypes.NodegroupStatusActive,
			NodegroupArn: aws.String("arn:aws:eks:us-west-2:111122223333:nodegroup/prod/" + name + "/uuid"),
			NodeRole:     aws.String("arn:aws:iam::111122223333:role/node"), Subnets: fakeSubnets,
			Version: aws.String("1.31"), ReleaseVersion: aws.String("1.31.0-20240625"),
			ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(1), MaxSize: aws.Int32(10), DesiredSize: aws.Int32(2)},
			Resources:     &ekstypes.NodegroupResources{AutoScalingGroups: []ekstypes.AutoScalingGroup{{Name: aws.String(asg)}}},
		}
	}
	general := ng("general", "eks-general")
	general.AmiType, general.CapacityType = ekstypes.AMITypesAl2023X8664Standard, ekstypes.CapacityTypesOnDemand
	general.InstanceTypes = []string{"m5.xlarge", "m5.large"}
	general.DiskSize = aws.Int32(50)
	general.Labels = map[string]string{"role": "general"}
	general.UpdateConfig = &ekstypes.NodegroupUpdateConfig{MaxUnavailablePercentage: aws.Int32(33), UpdateStrategy: ekstypes.NodegroupUpdateStrategiesDefault}
	general.RemoteAccess = &ekstypes.RemoteAccessConfig{Ec2SshKey: aws.String("ops"), SourceSecurityGroups: []string{"sg-ssh"}}
	general.Resources.RemoteAccessSecurityGroup = aws.String("sg-remote")
	general.NodeRepairConfig = &ekstypes.NodeRepairConfig{Enabled: aws.Bool(true)}
	general.Tags = map[string]string{"cost-center": "42"}
	w.eks.PutNodegroup(general)

	spot := ng("spot-arm", "eks-spot-arm")
	spot.AmiType, spot.CapacityType = ekstypes.AMITypesBottlerocketArm64, ekstypes.CapacityTypesSpot
	spot.InstanceTypes = []string{"m6g.large"}
	spot.Taints = []ekstypes.Taint{
		{Key: aws.String("spot"), Value: aws.String("true"), Effect: ekstypes.TaintEffectNoSchedule},
		{Key: aws.String("arm"), Effect: ekstypes.TaintEffectPreferNoSchedule},
	}
	spot.Health = &ekstypes.NodegroupHealth{Issues: []ekstypes.Issue{{Code: ekstypes.NodegroupIssueCodeAsgInstanceLaunchFailures, Message: aws.String("quota"), ResourceIds: []string{"eks-spot-arm"}}}}
	spot.WarmPoolConfig = &ekstypes.WarmPoolConfig{Enabled: aws.Bool(false)}
	w.eks.PutNodegroup(spot)

	custom := ng("custom-lt", "eks-custom-lt")
	custom.AmiType, custom.CapacityType = ekstypes.AMITypesCustom, ekstypes.CapacityTypesOnDemand
	custom.LaunchTemplate = &ekstypes.LaunchTemplateSpecification{Id: aws.String("lt-custom"), Name: aws.String("custom"), Version: aws.String("2")}
	w.eks.PutNodegroup(custom)

	orphan := ng("orphan", "eks-orphan") // neither its ASG nor its launch template exists
	orphan.LaunchTemplate = &ekstypes.LaunchTemplateSpecification{Id: aws.String("lt-gone"), Version: aws.String("1")}
	w.eks.PutNodegroup(orphan)

	w.eks.PutFargateProfile(ekstypes.FargateProfile{
		ClusterName: aws.String("prod"), FargateProfileName: aws.String("system"), Status: ekstypes.FargateProfileStatusActive,
		PodExecutionRoleArn: aws.String("arn:aws:iam::111122223333:role/fargate"), Subnets: []string{"subnet-b", "subnet-a"},
		Selectors: []ekstypes.FargateProfileSelector{{Namespace: aws.String("kube-system"), Labels: map[string]string{"k8s-app": "coredns"}}, {Namespace: aws.String("batch")}},
	})

	mngASG := func(name, ng, typ string, ids ...string) asgtypes.AutoScalingGroup {
		g := asgtypes.AutoScalingGroup{
			AutoScalingGroupName: aws.String(name), AutoScalingGroupARN: aws.String("arn:aws:autoscaling:us-west-2:111122223333:autoScalingGroup:x:autoScalingGroupName/" + name),
			MinSize: aws.Int32(1), MaxSize: aws.Int32(10), DesiredCapacity: aws.Int32(int32(len(ids))),
			VPCZoneIdentifier: aws.String("subnet-a,subnet-b,subnet-c"), AvailabilityZones: []string{"us-west-2a", "us-west-2b", "us-west-2c"},
			HealthCheckType: aws.String("EC2"),
			Tags:            caTags("prod", tag("eks:cluster-name", "prod"), tag("eks:nodegroup-name", ng)),
		}
		for _, id := range ids {
			g.Instances = append(g.Instances, instance(id, typ))
		}
		return g
	}
	w.asg.PutGroup(mngASG("eks-general", "general", "m5.large", "i-g1", "i-g2"))
	w.asg.PutGroup(mngASG("eks-spot-arm", "spot-arm", "m6g.large", "i-s1"))
	w.asg.PutGroup(mngASG("eks-custom-lt", "custom-lt", "c5.large", "i-c1"))
	other := mngASG("eks-other", "web", "m5.large")
	other.Tags = caTags("staging", tag("eks:cluster-name", "staging"), tag("eks:nodegroup-name", "web"))
	w.asg.PutGroup(other)
	w.asg.PutGroup(asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("staging-sm"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
		Tags: []asgtypes.TagDescription{tag("k8s.io/cluster-autoscaler/enabled", "true"), tag("kubernetes.io/cluster/staging", "owned")}})
	w.asg.PutGroup(asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("unrelated"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0)})

	w.asg.PutGroup(asgtypes.AutoScalingGroup{
		AutoScalingGroupName: aws.String("sm-mixed"), MinSize: aws.Int32(0), MaxSize: aws.Int32(20), DesiredCapacity: aws.Int32(3),
		VPCZoneIdentifier: aws.String("subnet-a, subnet-b"), CapacityRebalance: aws.Bool(true),
		MixedInstancesPolicy: &asgtypes.MixedInstancesPolicy{
			LaunchTemplate: &asgtypes.LaunchTemplate{
				LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("mixed"), Version: aws.String("$Latest")},
				Overrides: []asgtypes.LaunchTemplateOverrides{
					{InstanceType: aws.String("m5.large")},
					{InstanceType: aws.String("m5a.large"), WeightedCapacity: aws.String("1")},
					{InstanceType: aws.String("m6g.large"), LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-custom")}},
				},
			},
			InstancesDistribution: &asgtypes.InstancesDistribution{
				OnDemandBaseCapacity: aws.Int32(2), OnDemandPercentageAboveBaseCapacity: aws.Int32(25),
				SpotAllocationStrategy: aws.String("price-capacity-optimized"),
			},
		},
		Tags:                  caTags("prod", tag("kubernetes.io/cluster/prod", "owned")),
		Instances:             []asgtypes.Instance{instance("i-m1", "m5.large"), instance("i-m2", "m5a.large")},
		WarmPoolConfiguration: &asgtypes.WarmPoolConfiguration{PoolState: asgtypes.WarmPoolStateStopped},
	})
	w.asg.PutGroup(asgtypes.AutoScalingGroup{
		AutoScalingGroupName: aws.String("sm-gpu"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(0),
		VPCZoneIdentifier:   aws.String("subnet-c,subnet-gone"),
		LaunchTemplate:      &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-gpu")},
		MaxInstanceLifetime: aws.Int32(604800), TargetGroupARNs: []string{"arn:aws:elasticloadbalancing:us-west-2:111122223333:targetgroup/web/1"},
		SuspendedProcesses: []asgtypes.SuspendedProcess{{ProcessName: aws.String("AZRebalance")}},
		Tags: []asgtypes.TagDescription{
			tag("kubernetes.io/cluster/prod", "owned"),
			tag("k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.present", "true"),
			tag("k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu", "present:NoSchedule"),
			tag("k8s.io/cluster-autoscaler/node-template/taint/dedicated", ":NoExecute"),
			tag("k8s.io/cluster-autoscaler/node-template/taint/broken", "NoSchedule"),
			tag("k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage", "100G"),
			tag("k8s.io/cluster-autoscaler/node-template/autoscaling-options/scaledownunneededtime", "5m0s"),
			tag("k8s.io/cluster-autoscaler/node-template/autoscaling-options/bogus", "1"),
		},
	})

	ud := base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho hi\n"))
	w.ec2.PutLaunchTemplate("lt-custom", "custom",
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-1"), InstanceType: ec2types.InstanceTypeC5Large},
		ec2types.ResponseLaunchTemplateData{
			ImageId: aws.String("ami-2"), InstanceType: ec2types.InstanceTypeC5Large, UserData: aws.String(ud),
			SecurityGroupIds: []string{"sg-node", "sg-cluster"},
			BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMapping{{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.LaunchTemplateEbsBlockDevice{
				VolumeSize: aws.Int32(100), VolumeType: ec2types.VolumeTypeGp3, Encrypted: aws.Bool(true), Iops: aws.Int32(3000), Throughput: aws.Int32(125),
			}}},
			MetadataOptions: &ec2types.LaunchTemplateInstanceMetadataOptions{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2)},
			CpuOptions:      &ec2types.LaunchTemplateCpuOptions{CoreCount: aws.Int32(1)},
			EbsOptimized:    aws.Bool(true),
		},
	)
	w.ec2.PutLaunchTemplate("lt-gpu", "gpu", ec2types.ResponseLaunchTemplateData{
		ImageId: aws.String("ami-gpu"), InstanceType: ec2types.InstanceTypeG5Xlarge,
		NetworkInterfaces: []ec2types.LaunchTemplateInstanceNetworkInterfaceSpecification{{
			DeviceIndex: aws.Int32(0), Groups: []string{"sg-gpu"}, AssociatePublicIpAddress: aws.Bool(false), Ipv4PrefixCount: aws.Int32(1),
		}},
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecification{Name: aws.String("gpu-profile")},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}}}},
		Monitoring:            &ec2types.LaunchTemplatesMonitoring{Enabled: aws.Bool(true)},
		Placement:             &ec2types.LaunchTemplatePlacement{GroupName: aws.String("pg-1"), Tenancy: ec2types.TenancyDefault},
		InstanceMarketOptions: &ec2types.LaunchTemplateInstanceMarketOptions{MarketType: ec2types.MarketTypeSpot},
		CapacityReservationSpecification: &ec2types.LaunchTemplateCapacityReservationSpecificationResponse{
			CapacityReservationPreference: ec2types.CapacityReservationPreferenceOpen},
	})
	w.ec2.PutLaunchTemplate("lt-mixed", "mixed",
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-m1")},
		ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-m2"), UserData: aws.String("not base64!")},
	)
	for _, id := range fakeSubnets {
		w.ec2.PutSubnet(ec2types.Subnet{SubnetId: aws.String(id), VpcId: aws.String("vpc-1"),
			AvailabilityZone: aws.String("us-west-2" + id[len(id)-1:]), AvailabilityZoneId: aws.String("usw2-az" + id[len(id)-1:]),
			Tags: []ec2types.Tag{{Key: aws.String("kubernetes.io/role/internal-elb"), Value: aws.String("1")}}})
	}
	w.ec2.PutSubnet(ec2types.Subnet{SubnetId: aws.String("subnet-elsewhere"), VpcId: aws.String("vpc-2"), AvailabilityZone: aws.String("us-west-2d")})
	for _, id := range []string{"i-g1", "i-g2", "i-c1", "i-m1", "i-m2"} {
		w.ec2.PutInstance(ec2types.Instance{InstanceId: aws.String(id)})
	}
	w.ec2.PutInstance(ec2types.Instance{InstanceId: aws.String("i-s1"), InstanceLifecycle: ec2types.InstanceLifecycleTypeSpot})
	it := func(name ec2types.InstanceType, vcpu int32, mem int64, arch ec2types.ArchitectureType) ec2types.InstanceTypeInfo {
		return ec2types.InstanceTypeInfo{
			InstanceType: name, Hypervisor: ec2types.InstanceTypeHypervisorNitro, BareMetal: aws.Bool(false),
			VCpuInfo: &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(vcpu)}, MemoryInfo: &ec2types.MemoryInfo{SizeInMiB: aws.Int64(mem)},
			ProcessorInfo:         &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{arch}, Manufacturer: aws.String("Intel")},
			NetworkInfo:           &ec2types.NetworkInfo{MaximumNetworkInterfaces: aws.Int32(3), Ipv4AddressesPerInterface: aws.Int32(10)},
			SupportedUsageClasses: []ec2types.UsageClassType{ec2types.UsageClassTypeSpot, ec2types.UsageClassTypeOnDemand},
		}
	}
	w.ec2.PutInstanceType(it("m5.large", 2, 8192, ec2types.ArchitectureTypeX8664))
	w.ec2.PutInstanceType(it("m5.xlarge", 4, 16384, ec2types.ArchitectureTypeX8664))
	w.ec2.PutInstanceType(it("m5a.large", 2, 8192, ec2types.ArchitectureTypeX8664))
	w.ec2.PutInstanceType(it("m6g.large", 2, 8192, ec2types.ArchitectureTypeArm64))
	w.ec2.PutInstanceType(it("c5.large", 2, 4096, ec2types.ArchitectureTypeX8664))
	gpu := it("g5.xlarge", 4, 16384, ec2types.ArchitectureTypeX8664)
	gpu.GpuInfo = &ec2types.GpuInfo{Gpus: []ec2types.GpuDeviceInfo{{Count: aws.Int32(1), Manufacturer: aws.String("NVIDIA"), Name: aws.String("A10G"), MemoryInfo: &ec2types.GpuDeviceMemoryInfo{SizeInMiB: aws.Int32(22888)}}}}
	gpu.InstanceStorageInfo = &ec2types.InstanceStorageInfo{TotalSizeInGB: aws.Int64(250), NvmeSupport: ec2types.EphemeralNvmeSupportRequired}
	w.ec2.PutInstanceType(gpu)
	inf := it("inf2.xlarge", 4, 16384, ec2types.ArchitectureTypeX8664)
	inf.NeuronInfo = &ec2types.NeuronInfo{NeuronDevices: []ec2types.NeuronDeviceInfo{{Count: aws.Int32(1), Name: aws.String("Inferentia2")}}}
	w.ec2.PutInstanceType(inf)
}
