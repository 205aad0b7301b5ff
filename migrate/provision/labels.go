package provision

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/karpenter"
)

const (
	awsPrefix = "karpenter.k8s.aws/"
	// labelNodeClass is the label Karpenter puts on nodes for their EC2NodeClass.
	labelNodeClass = awsPrefix + "ec2nodeclass"
	labelZoneID    = "topology.k8s.aws/zone-id"
	labelEKSGroup  = "eks.amazonaws.com/nodegroup"
	labelEKSCap    = "eks.amazonaws.com/capacityType"
	labelGPUMemory = awsPrefix + "instance-gpu-memory"
	labelAccelName = awsPrefix + "instance-accelerator-name"
	labelLocalNVMe = awsPrefix + "instance-local-nvme"
)

// instanceLabelKeys are the keys every AWS instance type defines in its Karpenter
// requirements (karpenter-provider-aws computeRequirements); a type without a value
// for one of them has it as DoesNotExist, which is what keeps a pod that asks for
// instance-gpu-count Exists off a CPU-only type.
var instanceLabelKeys = []string{
	corev1.LabelInstanceTypeStable,
	corev1.LabelArchStable,
	corev1.LabelOSStable,
	corev1.LabelWindowsBuild,
	karpenter.LabelInstanceFamily,
	karpenter.LabelInstanceCategory,
	karpenter.LabelInstanceGen,
	karpenter.LabelInstanceSize,
	karpenter.LabelInstanceCPU,
	karpenter.LabelInstanceMemory,
	karpenter.LabelCPUManufacturer,
	karpenter.LabelGPUCount,
	karpenter.LabelGPUManufacturer,
	karpenter.LabelGPUName,
	labelGPUMemory,
	karpenter.LabelAccelCount,
	karpenter.LabelAccelManufacturer,
	labelAccelName,
	karpenter.LabelHypervisor,
	labelLocalNVMe,
	awsPrefix + "instance-ebs-bandwidth",
	awsPrefix + "instance-network-bandwidth",
	awsPrefix + "instance-encryption-in-transit-supported",
	awsPrefix + "instance-capability-flex",
	awsPrefix + "instance-cpu-sustained-clock-speed-mhz",
}

var instanceLabelKey = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range instanceLabelKeys {
		m[k] = true
	}
	return m
}()

// wellKnownLabels are labels Karpenter knows the values of (core WellKnownLabels plus
// the AWS provider's additions). Pods may select on them even when a NodePool does not
// mention them.
var wellKnownLabels = func() map[string]bool {
	m := map[string]bool{
		karpenter.LabelNodePool:                          true,
		corev1.LabelTopologyZone:                         true,
		corev1.LabelTopologyRegion:                       true,
		karpenter.LabelCapacityType:                      true,
		labelZoneID:                                      true,
		karpenter.LabelTenancy:                           true,
		karpenter.LabelCapacityReservationType:           true,
		awsPrefix + "capacity-reservation-id":            true,
		awsPrefix + "capacity-reservation-interruptible": true,
		awsPrefix + "instance-nitro-enclaves-supported":  true,
		awsPrefix + "placement-group-id":                 true,
		awsPrefix + "placement-group-partition":          true,
	}
	for _, k := range instanceLabelKeys {
		m[k] = true
	}
	return m
}()

// LabelFunc returns the well-known Karpenter labels of an instance type
// (catalog.Labels has this signature and is the default).
type LabelFunc func(it snapshot.InstanceType) map[string]string
