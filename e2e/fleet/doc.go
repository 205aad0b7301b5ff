//go:build e2e

// Package fleet is a test-only stand-in for EC2 behind the e2e stack: it keeps kwok Nodes
// in step with the Auto Scaling groups in moto_server, the way EC2 and EKS keep real
// nodes in step with them.
//
// moto launches (and terminates) instances when an Auto Scaling group's desired capacity
// changes, but nothing joins them to the cluster, and a moto managed node group is not
// backed by anything: UpdateNodegroupConfig changes only its record. The Controller
// closes both gaps on every sync:
//
//   - for a managed node group it copies the node group's scaling config onto the Auto
//     Scaling group the test created behind it (moto does not), so the group's
//     instances follow the node group;
//   - for every instance in a group's Auto Scaling group it makes a Node annotated
//     kwok.x-k8s.io/node=fake (kwok makes it Ready), with the labels EKS would give it
//     (eks.amazonaws.com/nodegroup and capacityType, the node group's labels and taints,
//     instance type, zone, region) and spec.providerID aws:///<zone>/<instance-id>;
//   - when an instance leaves its group (terminated) its Node goes, and the pods bound to
//     it are deleted at once, as on a terminated instance.
//
// Nodes of other origins (Karpenter's kwok:// nodes, nodes a test made by hand) are never
// touched. Zones are assigned round-robin per group, since moto puts every instance in
// the first subnet's zone.
//
// It imports client-go, the AWS SDK and the standard library only.
package fleet
