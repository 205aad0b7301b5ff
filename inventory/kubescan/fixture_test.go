package kubescan

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// The fixture is a small EKS cluster that runs Cluster Autoscaler with the priority
// expander, Karpenter on Fargate, and NTH in IMDS mode.

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func ctr(name, image string, requests corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Image: image, Resources: corev1.ResourceRequirements{Requests: requests}}
}

func ownedBy(kind, name string) []metav1.OwnerReference {
	apiVersion := "apps/v1"
	switch kind {
	case "Node":
		apiVersion = "v1"
	case "Job":
		apiVersion = "batch/v1"
	}
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}}
}

func objMeta(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
}

const priorityYAML = `
50:
  - ^eks-ng-general-
10:
  - .*
`

func fixtureObjects() []runtime.Object {
	objs := []runtime.Object{
		// Nodes: a managed-group node, a self-managed node, a Fargate node.
		&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-10.ec2.internal", Labels: map[string]string{
				LabelNodegroup: "ng-general", corev1.LabelTopologyZone: "us-east-1a"}},
			Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-0aaa"},
			Status: corev1.NodeStatus{
				Capacity:    rl("cpu", "4", "memory", "16Gi", "pods", "58"),
				Allocatable: rl("cpu", "3920m", "memory", "15Gi", "pods", "58"),
				Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			},
		},
		&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-2-20.ec2.internal", Labels: map[string]string{"role": "batch"}},
			Spec: corev1.NodeSpec{
				ProviderID:    "aws:///us-east-1b/i-0bbb",
				Unschedulable: true,
				Taints:        []corev1.Taint{{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}},
			},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}},
		},
		&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "fargate-ip-10-0-3-30.ec2.internal", Labels: map[string]string{LabelComputeType: "fargate"}},
			Spec:       corev1.NodeSpec{ProviderID: "aws:///us-east-1c/0123456789abcdef/fargate-ip-10-0-3-30.ec2.internal"},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
		},

		// ReplicaSets: a live one owned by a Deployment, an old revision, a bare one.
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-6b7f9c5d48", OwnerReferences: ownedBy("Deployment", "web")},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1)},
			Status:     appsv1.ReplicaSetStatus{Replicas: 1},
		},
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5f8d7c9b6", OwnerReferences: ownedBy("Deployment", "web")},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0)},
		},
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "lonely"},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1)},
			Status:     appsv1.ReplicaSetStatus{Replicas: 1},
		},
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter-7c9d8f6b5", OwnerReferences: ownedBy("Deployment", "karpenter")},
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1)},
			Status:     appsv1.ReplicaSetStatus{Replicas: 1},
		},

		// Pods.
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: "shop", Name: "web-6b7f9c5d48-x2x9z",
				Labels:          map[string]string{"app": "web", "pod-template-hash": "6b7f9c5d48"},
				OwnerReferences: ownedBy("ReplicaSet", "web-6b7f9c5d48"),
				Annotations: map[string]string{
					"cluster-autoscaler.kubernetes.io/safe-to-evict":   "false",
					"kubectl.kubernetes.io/last-applied-configuration": "{...}",
				},
			},
			Spec: corev1.PodSpec{
				NodeName:          "ip-10-0-1-10.ec2.internal",
				PriorityClassName: "high",
				Priority:          ptr.To[int32](1000),
				NodeSelector:      map[string]string{"kubernetes.io/arch": "amd64"},
				Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}},
				TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
					MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
				}},
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "role", Operator: corev1.NodeSelectorOpDoesNotExist}},
					}}},
				}},
				InitContainers: []corev1.Container{ctr("migrate", "shop/migrate:1", rl("cpu", "2", "memory", "128Mi"))},
				Containers: []corev1.Container{
					ctr("app", "shop/web:1", rl("cpu", "500m", "memory", "512Mi")),
					ctr("proxy", "envoy:1", rl("cpu", "100m", "memory", "64Mi")),
				},
				Overhead: rl("cpu", "50m", "memory", "10Mi"),
				Volumes: []corev1.Volume{
					{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "web-data"}}},
					{Name: "shared", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "shared"}}},
					{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				},
			},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "lonely-abcde", OwnerReferences: ownedBy("ReplicaSet", "lonely"),
				Annotations: map[string]string{"karpenter.sh/do-not-disrupt": "true"}},
			Spec: corev1.PodSpec{NodeName: "ip-10-0-2-20.ec2.internal", Containers: []corev1.Container{ctr("c", "busybox", nil)},
				Volumes: []corev1.Volume{
					{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
					{Name: "logs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
				}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", OwnerReferences: ownedBy("StatefulSet", "db")},
			Spec: corev1.PodSpec{NodeName: "ip-10-0-1-10.ec2.internal", Containers: []corev1.Container{ctr("db", "postgres", rl("cpu", "1"))},
				Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "aws-node-abcde", OwnerReferences: ownedBy("DaemonSet", "aws-node")},
			Spec:       corev1.PodSpec{NodeName: "ip-10-0-1-10.ec2.internal", Containers: []corev1.Container{ctr("aws-node", "amazon-k8s-cni", rl("cpu", "25m"))}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy-ip-10-0-2-20.ec2.internal",
				Annotations:     map[string]string{"kubernetes.io/config.mirror": "abc"},
				OwnerReferences: ownedBy("Node", "ip-10-0-2-20.ec2.internal")},
			Spec:   corev1.PodSpec{NodeName: "ip-10-0-2-20.ec2.internal", Containers: []corev1.Container{ctr("kube-proxy", "kube-proxy", rl("cpu", "100m"))}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "batch", Name: "report-29000000-abcde", OwnerReferences: ownedBy("Job", "report-29000000")},
			Spec:       corev1.PodSpec{NodeName: "ip-10-0-2-20.ec2.internal", Containers: []corev1.Container{ctr("r", "report", rl("cpu", "1"))}},
			Status:     corev1.PodStatus{Phase: corev1.PodSucceeded},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter-7c9d8f6b5-q8w7e",
				Labels:          map[string]string{"app.kubernetes.io/name": "karpenter", "pod-template-hash": "7c9d8f6b5"},
				OwnerReferences: ownedBy("ReplicaSet", "karpenter-7c9d8f6b5")},
			Spec:   corev1.PodSpec{NodeName: "fargate-ip-10-0-3-30.ec2.internal", Containers: []corev1.Container{ctr("controller", "public.ecr.aws/karpenter/controller:1.8.1", rl("cpu", "1", "memory", "1Gi"))}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		},

		// PDB.
		&policyv1.PodDisruptionBudget{
			ObjectMeta: objMeta("shop", "web", nil),
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: ptr.To(intstr.FromInt32(1)),
				Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			},
			Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1, DisruptionsAllowed: 0},
		},

		// DaemonSets: the CNI and NTH (IMDS mode).
		&appsv1.DaemonSet{
			ObjectMeta: objMeta("kube-system", "aws-node", map[string]string{"k8s-app": "aws-node"}),
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers:  []corev1.Container{ctr("aws-node", "amazon-k8s-cni", rl("cpu", "25m"))},
				Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2},
		},
		&appsv1.DaemonSet{
			ObjectMeta: objMeta("kube-system", "aws-node-termination-handler", map[string]string{"app.kubernetes.io/name": "aws-node-termination-handler"}),
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
				Containers: []corev1.Container{{Name: "nth", Image: "public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.22.0",
					Env: []corev1.EnvVar{{Name: "ENABLE_SPOT_INTERRUPTION_DRAINING", Value: "true"}}}},
			}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2},
		},

		// PVs: zonal by node affinity (bound to shop/web-data), legacy labels with two
		// zones (bound to shop/shared), and an unrestricted one (bound to data-db-0).
		&corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-web"},
			Spec: corev1.PersistentVolumeSpec{
				StorageClassName: "gp3",
				ClaimRef:         &corev1.ObjectReference{Namespace: "shop", Name: "web-data"},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.ebs.csi.aws.com/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a"}}},
				}}}},
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		},
		&corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-shared", Labels: map[string]string{corev1.LabelFailureDomainBetaZone: "us-east-1a__us-east-1b"}},
			Spec:       corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Namespace: "shop", Name: "shared"}},
			Status:     corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		},
		&corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-db"},
			Spec:       corev1.PersistentVolumeSpec{ClaimRef: &corev1.ObjectReference{Namespace: "shop", Name: "data-db-0"}, StorageClassName: "efs"},
			Status:     corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		},

		// Cluster Autoscaler as the Helm chart renders it, with the priority expander
		// and a --namespace that differs from the Deployment's.
		&appsv1.Deployment{
			ObjectMeta: objMeta("autoscaling", "ca-aws-cluster-autoscaler", map[string]string{"app.kubernetes.io/name": "aws-cluster-autoscaler"}),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name:    "aws-cluster-autoscaler",
					Image:   "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1",
					Command: []string{"./cluster-autoscaler"},
					Args: []string{
						"--cloud-provider=aws",
						"--namespace=kube-system",
						"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo",
						"--expander=priority,least-waste",
						"--scale-down-unneeded-time=5m",
						"--nodes=0:10:self-managed-batch",
						"--v=4",
					},
				}},
			}}},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 1},
		},
		&corev1.ConfigMap{
			ObjectMeta: objMeta("kube-system", "cluster-autoscaler-priority-expander", nil),
			Data:       map[string]string{"priorities": priorityYAML},
		},

		// Karpenter, running on Fargate.
		&appsv1.Deployment{
			ObjectMeta: objMeta("karpenter", "karpenter", map[string]string{"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/version": "1.8.1"}),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{
					Name: "controller", Image: "public.ecr.aws/karpenter/controller:1.8.1@sha256:0123",
					Env: []corev1.EnvVar{{Name: "CLUSTER_NAME", Value: "demo"}, {Name: "INTERRUPTION_QUEUE", Value: "demo"}},
				}},
			}}},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 1},
		},
		// An unrelated Deployment.
		&appsv1.Deployment{
			ObjectMeta: objMeta("shop", "web", map[string]string{"app": "web"}),
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{ctr("app", "shop/web:1", nil)},
			}}},
		},

		// aws-auth.
		&corev1.ConfigMap{
			ObjectMeta: objMeta("kube-system", "aws-auth", nil),
			Data: map[string]string{"mapRoles": `- rolearn: arn:aws:iam::111122223333:role/ng-general
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
- rolearn: arn:aws:iam::111122223333:role/admin
  username: admin
  groups: [system:masters]
`},
		},
	}
	return objs
}

// karpenterGVRs are the Karpenter resources of the fixture's API.
var karpenterGVRs = map[schema.GroupVersionResource]string{
	{Group: KarpenterGroup, Version: "v1", Resource: "nodepools"}:         "NodePoolList",
	{Group: KarpenterGroup, Version: "v1", Resource: "nodeclaims"}:        "NodeClaimList",
	{Group: KarpenterAWSGroup, Version: "v1", Resource: "ec2nodeclasses"}: "EC2NodeClassList",
}

// newFixture returns a fake clientset serving the fixture (with Karpenter's APIs in
// discovery) and a dynamic client holding one NodePool and one EC2NodeClass.
func newFixture(extra ...runtime.Object) (*fake.Clientset, *dynamicfake.FakeDynamicClient) {
	kube := fake.NewClientset(append(fixtureObjects(), extra...)...)
	kube.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod"}}},
		{GroupVersion: KarpenterGroup + "/v1", APIResources: []metav1.APIResource{
			{Name: "nodepools", Kind: "NodePool"}, {Name: "nodepools/status", Kind: "NodePool"}, {Name: "nodeclaims", Kind: "NodeClaim"},
		}},
		{GroupVersion: KarpenterAWSGroup + "/v1", APIResources: []metav1.APIResource{{Name: "ec2nodeclasses", Kind: "EC2NodeClass"}}},
	}
	obj := func(apiVersion, kind, name string) runtime.Object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), karpenterGVRs,
		obj(KarpenterGroup+"/v1", "NodePool", "default"),
		obj(KarpenterGroup+"/v1", "NodePool", "gpu"),
		obj(KarpenterAWSGroup+"/v1", "EC2NodeClass", "default"),
	)
	return kube, dyn
}

// manyPods returns n running pods spread over a few ReplicaSets and nodes, for the
// benchmark and the pagination test.
func manyPods(n int) []runtime.Object {
	out := make([]runtime.Object, 0, n)
	for i := range n {
		rs := fmt.Sprintf("app%d-5d8f7c9b6", i%20)
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "load", Name: fmt.Sprintf("%s-%05d", rs, i),
				Labels:          map[string]string{"app": fmt.Sprintf("app%d", i%20), "pod-template-hash": "5d8f7c9b6"},
				OwnerReferences: ownedBy("ReplicaSet", rs)},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%50), Containers: []corev1.Container{
				ctr("app", "app:1", rl("cpu", "250m", "memory", "256Mi")),
			}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		})
	}
	return out
}
