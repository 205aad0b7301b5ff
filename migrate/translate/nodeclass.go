package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// disks maps the group's volumes (§2.1 diskSize, §2.6 BlockDeviceMappings). rootVolume
// marks the volume Karpenter counts as ephemeral storage: the AMI root device, except
// on Bottlerocket, whose containers live on the data volume /dev/xvdb.
func (c *groupCtx) disks() {
	family := c.ami.family
	ephemeral := rootDevice(family)
	if family == familyBottlerocket {
		ephemeral = "/dev/xvdb"
	}
	if c.lt != nil && len(c.lt.BlockDeviceMappings) > 0 {
		var out []karpenter.BlockDeviceMapping
		var instanceStore, defaulted []string
		for _, m := range c.lt.BlockDeviceMappings {
			switch {
			case m.NoDevice:
				continue
			case m.VirtualName != "":
				instanceStore = append(instanceStore, m.DeviceName+"="+m.VirtualName)
				continue
			case m.EBS == nil:
				continue
			}
			e := m.EBS
			bd := &karpenter.BlockDevice{
				VolumeType: e.VolumeType, Encrypted: e.Encrypted, KMSKeyID: e.KmsKeyID,
				SnapshotID: e.SnapshotID, DeleteOnTermination: e.DeleteOnTermination,
			}
			switch {
			case e.VolumeSize != nil && *e.VolumeSize > 0:
				bd.VolumeSize = fmt.Sprintf("%dGi", *e.VolumeSize)
			case e.SnapshotID == "":
				size := defaultVolumeGiB(family, m.DeviceName)
				bd.VolumeSize = fmt.Sprintf("%dGi", size)
				defaulted = append(defaulted, fmt.Sprintf("%s=%dGi", m.DeviceName, size))
			}
			if e.Iops != nil {
				v := int64(*e.Iops)
				bd.IOPS = &v
			}
			if e.Throughput != nil {
				v := int64(*e.Throughput)
				bd.Throughput = &v
			}
			out = append(out, karpenter.BlockDeviceMapping{DeviceName: m.DeviceName, EBS: bd, RootVolume: m.DeviceName == ephemeral})
		}
		slices.SortFunc(out, func(a, b karpenter.BlockDeviceMapping) int { return cmp.Compare(a.DeviceName, b.DeviceName) })
		out = slices.CompactFunc(out, func(a, b karpenter.BlockDeviceMapping) bool { return a.DeviceName == b.DeviceName })
		c.spec.BlockDevices = out
		if len(defaulted) > 0 {
			slices.Sort(defaulted)
			c.finding(plan.SeverityInfo, "volume-size-default", "launchTemplate.blockDeviceMappings",
				"volumes without a size take the AMI snapshot's size on EC2, but an EC2NodeClass needs a size: used "+strings.Join(defaulted, ", "),
				"set the sizes you want in blockDeviceMappings")
		}
		if len(instanceStore) > 0 && c.spec.InstanceStorePolicy == "" {
			slices.Sort(instanceStore)
			c.finding(plan.SeverityInfo, "instance-store", "launchTemplate.blockDeviceMappings",
				"instance-store mappings ("+strings.Join(instanceStore, ", ")+") have no EC2NodeClass field; Karpenter exposes instance stores only with instanceStorePolicy RAID0",
				"set instanceStorePolicy: RAID0 if the nodes should use local NVMe for ephemeral storage")
		}
		return
	}
	if c.ng == nil || c.ng.DiskSize == nil {
		return // Karpenter's per-family defaults match EKS's
	}
	size := fmt.Sprintf("%dGi", *c.ng.DiskSize)
	gp3 := func(sz string, root bool, dev string) karpenter.BlockDeviceMapping {
		t := true
		return karpenter.BlockDeviceMapping{DeviceName: dev, RootVolume: root, EBS: &karpenter.BlockDevice{VolumeSize: sz, VolumeType: "gp3", Encrypted: &t}}
	}
	if family == familyBottlerocket {
		c.spec.BlockDevices = []karpenter.BlockDeviceMapping{gp3("4Gi", false, "/dev/xvda"), gp3(size, true, "/dev/xvdb")}
		return
	}
	c.spec.BlockDevices = []karpenter.BlockDeviceMapping{gp3(size, true, rootDevice(family))}
}

func defaultVolumeGiB(family, device string) int {
	switch {
	case strings.HasPrefix(family, "Windows"):
		return 50
	case family == familyBottlerocket && device == "/dev/xvda":
		return 4
	}
	return 20
}

func (c *groupCtx) metadataOptions() {
	if c.lt == nil || c.lt.MetadataOptions == nil {
		return
	}
	m := c.lt.MetadataOptions
	out := &karpenter.MetadataOptions{HTTPEndpoint: m.HttpEndpoint, HTTPTokens: m.HttpTokens, HTTPProtocolIPv6: m.HttpProtocolIPv6}
	if m.HttpPutResponseHopLimit != nil {
		v := int64(*m.HttpPutResponseHopLimit)
		out.HTTPPutResponseHopLimit = &v
	}
	if *out != (karpenter.MetadataOptions{}) {
		c.spec.Metadata = out
	}
	if m.InstanceMetadataTags == "enabled" {
		c.finding(plan.SeverityInfo, "imds-instance-tags", "launchTemplate.metadataOptions.instanceMetadataTags",
			"instance tags in IMDS are enabled on the launch template; an EC2NodeClass has no such field",
			"read tags from the EC2 API instead, or keep the group for the workloads that need them")
	}
}

// Tag keys an EC2NodeClass must not carry: AWS- and EKS-reserved keys, cluster
// ownership and Cluster Autoscaler discovery tags, and the keys Karpenter sets itself
// (forbidden by the CRD's CEL rules).
func droppedTag(k string) bool {
	switch {
	case k == "", strings.HasPrefix(k, "aws:"), strings.HasPrefix(k, "eks:"),
		strings.HasPrefix(k, "kubernetes.io/cluster"), strings.HasPrefix(k, "k8s.io/cluster-autoscaler/"),
		k == "karpenter.sh/nodepool", k == "karpenter.sh/nodeclaim", k == "karpenter.k8s.aws/ec2nodeclass",
		k == "karpenter.sh/managed-by":
		return true
	}
	return false
}

func (c *groupCtx) tags() {
	tags := map[string]string{}
	if c.ng != nil {
		for k, v := range c.ng.Tags {
			tags[k] = v
		}
	}
	if c.asg != nil {
		for _, t := range c.asg.Tags {
			if t.PropagateAtLaunch {
				tags[t.Key] = t.Value
			}
		}
	}
	if c.lt != nil {
		specs := slices.Clone(c.lt.TagSpecifications)
		// Per-resource-type tags collapse into one map; instance tags win.
		rank := func(rt string) int {
			if rt == "instance" {
				return 1
			}
			return 0
		}
		slices.SortStableFunc(specs, func(a, b snapshot.TagSpecification) int {
			return cmp.Or(cmp.Compare(rank(a.ResourceType), rank(b.ResourceType)), cmp.Compare(a.ResourceType, b.ResourceType))
		})
		for _, s := range specs {
			for k, v := range s.Tags {
				tags[k] = v
			}
		}
	}
	for k := range tags {
		if droppedTag(k) {
			delete(tags, k)
		}
	}
	if len(tags) > 0 {
		c.spec.Tags = tags
	}
}
