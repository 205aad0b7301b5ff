// Package sandbox is an in-process EKS cluster built from a snapshot, on which the real
// cutover executor runs unchanged: the demo (`karpshift demo`) and rehearsals of a
// user's own cluster (`karpshift demo --snapshot FILE`).
//
// It implements the interfaces the live path uses. Kubernetes is client-go's fake
// clientset, made to behave like an API server where cutover depends on it: the
// eviction subresource refuses what a PodDisruptionBudget does not allow (429), pod
// lists honour field selectors, server-side apply of NodePools and EC2NodeClasses
// works, discovery serves the Karpenter v1 APIs and pods/eviction. AWS is the stateful
// EKS and Auto Scaling fakes of migrate/cutover/fakeaws, seeded with the snapshot's
// groups.
//
// Controllers run in one loop, each pass acting like its namesake: a kubelet starts
// bound pods and brings nodes Ready; ReplicaSet, StatefulSet, Deployment, DaemonSet and
// disruption (PDB status) controllers; a scheduler that binds pending pods where they
// fit (resources, node selectors and required node affinity, taints, required pod
// (anti-)affinity, DoNotSchedule topology spread, volume zones); Karpenter, played by
// the embedded provisioner (provision.Loop) with the NodePools and EC2NodeClasses
// applied to the cluster; and the fleet, which adds and removes a group's nodes when
// its size changes in the AWS fakes. A watcher, independent of the executor, counts
// PodDisruptionBudget violations (from pods, not from the PDB status), pending pods,
// pods lost and breaches of the cutover's safety invariants.
//
// Time is the sandbox's own (Clock): the loop steps it one tick per pass, so the
// cluster keeps realistic durations (nodes start in tens of seconds) while a demo runs
// in seconds, evenly on slow machines too.
//
// Demo ties it together: translate, simulate, build the sandbox, run the cutover's
// steps with the real Executor, and report time, evictions, violations, losses and
// cost. The package may import inventory, the migrate packages and client-go (its fake
// clients included); it must not import render, tui or cobra, and it never prints.
package sandbox
