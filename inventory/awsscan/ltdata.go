package awsscan

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// convertLaunchTemplate copies the launch template data of karpenter-mapping.md §2.6 and
// lists in Dropped every set field that has no Karpenter equivalent.
func convertLaunchTemplate(v ec2types.LaunchTemplateVersion, warnf func(string, ...any)) snapshot.LaunchTemplate {
	lt := snapshot.LaunchTemplate{
		ID:      aws.ToString(v.LaunchTemplateId),
		Name:    aws.ToString(v.LaunchTemplateName),
		Version: strconv.FormatInt(aws.ToInt64(v.VersionNumber), 10),
	}
	d := v.LaunchTemplateData
	if d == nil {
		return lt
	}
	lt.ImageID = aws.ToString(d.ImageId)
	lt.InstanceType = string(d.InstanceType)
	lt.KeyName = aws.ToString(d.KeyName)
	if ud := aws.ToString(d.UserData); ud != "" {
		b, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			warnf("launch template %s version %s: userData is not base64 (%v); kept as is", lt.ID, lt.Version, err)
			lt.UserData = ud
		} else {
			lt.UserData = string(b)
		}
	}
	lt.SecurityGroupIDs = slices.Clone(d.SecurityGroupIds)
	lt.SecurityGroupNames = slices.Clone(d.SecurityGroups)
	var dropped []string
	drop := func(set bool, name string) {
		if set {
			dropped = append(dropped, name)
		}
	}
	for i, ni := range d.NetworkInterfaces {
		lt.NetworkInterfaces = append(lt.NetworkInterfaces, snapshot.NetworkInterface{
			DeviceIndex:              ni.DeviceIndex,
			NetworkCardIndex:         ni.NetworkCardIndex,
			Groups:                   slices.Clone(ni.Groups),
			AssociatePublicIPAddress: ni.AssociatePublicIpAddress,
			InterfaceType:            aws.ToString(ni.InterfaceType),
		})
		p := fmt.Sprintf("NetworkInterfaces[%d].", i)
		drop(ni.SubnetId != nil, p+"SubnetId")
		drop(ni.NetworkInterfaceId != nil, p+"NetworkInterfaceId")
		drop(ni.PrivateIpAddress != nil || len(ni.PrivateIpAddresses) > 0 || ni.SecondaryPrivateIpAddressCount != nil, p+"PrivateIpAddresses")
		drop(ni.Ipv4PrefixCount != nil || len(ni.Ipv4Prefixes) > 0, p+"Ipv4Prefixes")
		drop(ni.Ipv6AddressCount != nil || len(ni.Ipv6Addresses) > 0 || ni.Ipv6PrefixCount != nil || len(ni.Ipv6Prefixes) > 0 || ni.PrimaryIpv6 != nil, p+"Ipv6")
		drop(ni.AssociateCarrierIpAddress != nil, p+"AssociateCarrierIpAddress")
		drop(ni.EnaSrdSpecification != nil || ni.EnaQueueCount != nil, p+"EnaSrdSpecification")
		drop(ni.ConnectionTrackingSpecification != nil, p+"ConnectionTrackingSpecification")
		drop(ni.Description != nil, p+"Description")
	}
	for _, b := range d.BlockDeviceMappings {
		bd := snapshot.BlockDeviceMapping{DeviceName: aws.ToString(b.DeviceName), NoDevice: b.NoDevice != nil, VirtualName: aws.ToString(b.VirtualName)}
		if e := b.Ebs; e != nil {
			bd.EBS = &snapshot.EBS{
				VolumeSize: e.VolumeSize, VolumeType: string(e.VolumeType), Iops: e.Iops, Throughput: e.Throughput,
				Encrypted: e.Encrypted, KmsKeyID: aws.ToString(e.KmsKeyId), SnapshotID: aws.ToString(e.SnapshotId),
				DeleteOnTermination: e.DeleteOnTermination,
			}
			drop(e.EbsCardIndex != nil, "BlockDeviceMappings["+bd.DeviceName+"].Ebs.EbsCardIndex")
			drop(e.VolumeInitializationRate != nil, "BlockDeviceMappings["+bd.DeviceName+"].Ebs.VolumeInitializationRate")
		}
		lt.BlockDeviceMappings = append(lt.BlockDeviceMappings, bd)
	}
	if m := d.MetadataOptions; m != nil {
		lt.MetadataOptions = &snapshot.MetadataOptions{
			HttpEndpoint: string(m.HttpEndpoint), HttpTokens: string(m.HttpTokens), HttpPutResponseHopLimit: m.HttpPutResponseHopLimit,
			HttpProtocolIPv6: string(m.HttpProtocolIpv6), InstanceMetadataTags: string(m.InstanceMetadataTags),
		}
	}
	if p := d.IamInstanceProfile; p != nil {
		lt.IamInstanceProfile = &snapshot.IamInstanceProfile{ARN: aws.ToString(p.Arn), Name: aws.ToString(p.Name)}
	}
	for _, ts := range d.TagSpecifications {
		spec := snapshot.TagSpecification{ResourceType: string(ts.ResourceType)}
		for _, t := range ts.Tags {
			spec.Tags = setKey(spec.Tags, aws.ToString(t.Key), aws.ToString(t.Value))
		}
		lt.TagSpecifications = append(lt.TagSpecifications, spec)
	}
	if d.Monitoring != nil {
		lt.Monitoring = d.Monitoring.Enabled
	}
	if c := d.CapacityReservationSpecification; c != nil {
		spec := &snapshot.CapacityReservationSpec{Preference: string(c.CapacityReservationPreference)}
		if t := c.CapacityReservationTarget; t != nil {
			spec.ReservationID = aws.ToString(t.CapacityReservationId)
			spec.ResourceGroupARN = aws.ToString(t.CapacityReservationResourceGroupArn)
		}
		lt.CapacityReservation = spec
	}
	if p := d.Placement; p != nil {
		lt.PlacementGroup = cmp.Or(aws.ToString(p.GroupName), aws.ToString(p.GroupId))
		lt.Tenancy = string(p.Tenancy)
		drop(p.AvailabilityZone != nil || p.AvailabilityZoneId != nil, "Placement.AvailabilityZone")
		drop(p.HostId != nil || p.HostResourceGroupArn != nil || p.Affinity != nil, "Placement.Host")
		drop(p.PartitionNumber != nil, "Placement.PartitionNumber")
		drop(p.SpreadDomain != nil, "Placement.SpreadDomain")
	}
	lt.InstanceRequirements = ec2InstanceRequirements(d.InstanceRequirements)
	if mo := d.InstanceMarketOptions; mo != nil {
		lt.MarketType = string(mo.MarketType)
		drop(mo.SpotOptions != nil, "InstanceMarketOptions.SpotOptions")
	}
	drop(d.CpuOptions != nil, "CpuOptions")
	drop(d.CreditSpecification != nil, "CreditSpecification")
	drop(d.EbsOptimized != nil, "EbsOptimized")
	drop(d.EnclaveOptions != nil, "EnclaveOptions")
	drop(d.HibernationOptions != nil, "HibernationOptions")
	drop(d.MaintenanceOptions != nil, "MaintenanceOptions")
	drop(d.PrivateDnsNameOptions != nil, "PrivateDnsNameOptions")
	drop(d.NetworkPerformanceOptions != nil, "NetworkPerformanceOptions")
	drop(d.DisableApiStop != nil, "DisableApiStop")
	drop(d.DisableApiTermination != nil, "DisableApiTermination")
	drop(d.InstanceInitiatedShutdownBehavior != "", "InstanceInitiatedShutdownBehavior")
	drop(len(d.ElasticGpuSpecifications) > 0, "ElasticGpuSpecifications")
	drop(len(d.ElasticInferenceAccelerators) > 0, "ElasticInferenceAccelerators")
	drop(len(d.LicenseSpecifications) > 0, "LicenseSpecifications")
	drop(len(d.SecondaryInterfaces) > 0, "SecondaryInterfaces")
	drop(d.KernelId != nil, "KernelId")
	drop(d.RamDiskId != nil, "RamDiskId")
	if d.InstanceRequirements != nil {
		r := d.InstanceRequirements
		drop(r.NetworkBandwidthGbps != nil, "InstanceRequirements.NetworkBandwidthGbps")
		drop(r.MaxSpotPriceAsPercentageOfOptimalOnDemandPrice != nil || r.SpotMaxPricePercentageOverLowestPrice != nil ||
			r.OnDemandMaxPricePercentageOverLowestPrice != nil, "InstanceRequirements.PriceProtection")
		drop(r.MemoryGiBPerVCpu != nil, "InstanceRequirements.MemoryGiBPerVCpu")
		drop(r.NetworkInterfaceCount != nil, "InstanceRequirements.NetworkInterfaceCount")
		drop(r.BaselineEbsBandwidthMbps != nil, "InstanceRequirements.BaselineEbsBandwidthMbps")
		drop(r.LocalStorage != "" || len(r.LocalStorageTypes) > 0 || r.TotalLocalStorageGB != nil, "InstanceRequirements.LocalStorage")
		drop(len(r.AcceleratorNames) > 0 || r.AcceleratorTotalMemoryMiB != nil, "InstanceRequirements.AcceleratorNames")
		drop(r.RequireHibernateSupport != nil, "InstanceRequirements.RequireHibernateSupport")
	}
	slices.Sort(dropped)
	lt.Dropped = slices.Compact(dropped)
	return lt
}

func ec2InstanceRequirements(r *ec2types.InstanceRequirements) *snapshot.InstanceRequirements {
	if r == nil {
		return nil
	}
	out := &snapshot.InstanceRequirements{
		AllowedInstanceTypes:     slices.Clone(r.AllowedInstanceTypes),
		ExcludedInstanceTypes:    slices.Clone(r.ExcludedInstanceTypes),
		BurstablePerformance:     string(r.BurstablePerformance),
		BareMetal:                string(r.BareMetal),
		CPUManufacturers:         stringsOf(r.CpuManufacturers),
		InstanceGenerations:      stringsOf(r.InstanceGenerations),
		AcceleratorTypes:         stringsOf(r.AcceleratorTypes),
		AcceleratorManufacturers: stringsOf(r.AcceleratorManufacturers),
	}
	if r.VCpuCount != nil {
		out.VCpuMin, out.VCpuMax = r.VCpuCount.Min, r.VCpuCount.Max
	}
	if r.MemoryMiB != nil {
		out.MemoryMiBMin, out.MemoryMiBMax = r.MemoryMiB.Min, r.MemoryMiB.Max
	}
	if r.AcceleratorCount != nil {
		out.AcceleratorCountMin, out.AcceleratorCountMax = r.AcceleratorCount.Min, r.AcceleratorCount.Max
	}
	return out
}
