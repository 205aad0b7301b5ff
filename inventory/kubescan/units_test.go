package kubescan

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodRequests(t *testing.T) {
	always := ptr.To(corev1.ContainerRestartPolicyAlways)
	sidecar := func(name string, r corev1.ResourceList) corev1.Container {
		c := ctr(name, "img", r)
		c.RestartPolicy = always
		return c
	}
	tests := []struct {
		name    string
		spec    corev1.PodSpec
		cpuM    int64
		memMi   int64
		wantNil bool
	}{
		{
			name:  "containers sum",
			spec:  corev1.PodSpec{Containers: []corev1.Container{ctr("a", "", rl("cpu", "250m", "memory", "64Mi")), ctr("b", "", rl("cpu", "250m"))}},
			cpuM:  500,
			memMi: 64,
		},
		{
			name: "largest init container wins per resource",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{ctr("i1", "", rl("cpu", "2")), ctr("i2", "", rl("memory", "1Gi"))},
				Containers:     []corev1.Container{ctr("a", "", rl("cpu", "1", "memory", "128Mi"))},
			},
			cpuM:  2000,
			memMi: 1024,
		},
		{
			name: "sidecars run with the containers and with later init containers",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{
					sidecar("s1", rl("cpu", "1")),
					ctr("i1", "", rl("cpu", "5")),
					sidecar("s2", rl("cpu", "500m", "memory", "100Mi")),
				},
				Containers: []corev1.Container{ctr("a", "", rl("cpu", "1"))},
			},
			cpuM:  6000, // i1 (5) while s1 (1) runs > steady state 1+1+0.5
			memMi: 100,
		},
		{
			name: "sidecars dominate when init containers are small",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{sidecar("s1", rl("cpu", "1")), ctr("i1", "", rl("cpu", "100m"))},
				Containers:     []corev1.Container{ctr("a", "", rl("cpu", "2"))},
			},
			cpuM: 3000,
		},
		{
			name: "pod-level requests replace the aggregate, then overhead is added",
			spec: corev1.PodSpec{
				Resources:  &corev1.ResourceRequirements{Requests: rl("cpu", "3")},
				Containers: []corev1.Container{ctr("a", "", rl("cpu", "1", "memory", "200Mi"))},
				Overhead:   rl("cpu", "100m", "memory", "20Mi"),
			},
			cpuM:  3100,
			memMi: 220,
		},
		{
			name:    "nothing requested",
			spec:    corev1.PodSpec{Containers: []corev1.Container{ctr("a", "", nil)}},
			wantNil: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodRequests(&tt.spec)
			if tt.wantNil {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			if c := got.Cpu().MilliValue(); c != tt.cpuM {
				t.Errorf("cpu = %dm, want %dm", c, tt.cpuM)
			}
			if m := got.Memory().Value() >> 20; m != tt.memMi {
				t.Errorf("memory = %dMi, want %dMi", m, tt.memMi)
			}
		})
	}
	// The input is not modified.
	spec := corev1.PodSpec{Containers: []corev1.Container{ctr("a", "", rl("cpu", "1")), ctr("b", "", rl("cpu", "1"))}}
	PodRequests(&spec)
	if c := spec.Containers[0].Resources.Requests.Cpu().MilliValue(); c != 1000 {
		t.Errorf("PodRequests changed the first container's request to %dm", c)
	}
}

func TestPVZones(t *testing.T) {
	term := func(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: reqs}
	}
	in := func(key string, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpIn, Values: vals}
	}
	pv := func(labels map[string]string, terms ...corev1.NodeSelectorTerm) *corev1.PersistentVolume {
		p := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
		if len(terms) > 0 {
			p.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: terms}}
		}
		return p
	}
	tests := []struct {
		name string
		pv   *corev1.PersistentVolume
		want []string
	}{
		{"ebs csi key", pv(nil, term(in("topology.ebs.csi.aws.com/zone", "us-east-1a"))), []string{"us-east-1a"}},
		{"topology key", pv(nil, term(in(corev1.LabelTopologyZone, "us-east-1b", "us-east-1c"))), []string{"us-east-1b", "us-east-1c"}},
		{"terms are ORed", pv(nil, term(in(corev1.LabelTopologyZone, "a")), term(in(corev1.LabelTopologyZone, "b", "a"))), []string{"a", "b"}},
		{"requirements in a term are ANDed", pv(nil, term(in(corev1.LabelTopologyZone, "a", "b"), in("topology.ebs.csi.aws.com/zone", "b", "c"))), []string{"b"}},
		{"a term without zones leaves it unrestricted", pv(nil, term(in(corev1.LabelTopologyZone, "a")), term(in("kubernetes.io/hostname", "n1"))), nil},
		{"legacy label with several zones", pv(map[string]string{corev1.LabelFailureDomainBetaZone: "a__b"}), []string{"a", "b"}},
		{"topology label", pv(map[string]string{corev1.LabelTopologyZone: "c"}), []string{"c"}},
		{"nothing", pv(nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, "zones", PVZones(tt.pv), tt.want)
		})
	}
}

func TestDeploymentFromReplicaSet(t *testing.T) {
	tests := []struct {
		rs, hash string
		want     string
		ok       bool
	}{
		{"web-6b7f9c5d48", "6b7f9c5d48", "web", true},
		{"my-app-6b7f9c5d48", "", "my-app", true},
		{"my-app-v2", "", "", false},           // "v2" is too short for a hash
		{"web-6b7f9c5d48", "other", "", false}, // the label disagrees with the name
		{"lonely", "", "", false},
		{"-6b7f9c5d48", "6b7f9c5d48", "", false},
		{"api-aeiou12345", "", "", false}, // vowels never appear in hashes
	}
	for _, tt := range tests {
		got, ok := DeploymentFromReplicaSet(tt.rs, tt.hash)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DeploymentFromReplicaSet(%q, %q) = %q, %v; want %q, %v", tt.rs, tt.hash, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInstanceID(t *testing.T) {
	for in, want := range map[string]string{
		"aws:///us-east-1a/i-0123456789abcdef0": "i-0123456789abcdef0",
		"aws:///us-east-1a/abc/fargate-ip-1":    "",
		"kwok://node-1":                         "",
		"":                                      "",
		"aws:///i-0abc":                         "i-0abc",
	} {
		if got := InstanceID(in); got != want {
			t.Errorf("InstanceID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct{ image, repo, tag string }{
		{"registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.1", "registry.k8s.io/autoscaling/cluster-autoscaler", "v1.32.1"},
		{"public.ecr.aws/karpenter/controller:1.8.1@sha256:abc", "public.ecr.aws/karpenter/controller", "1.8.1"},
		{"localhost:5000/karpenter", "localhost:5000/karpenter", ""},
		{"busybox", "busybox", ""},
		{"repo@sha256:abc", "repo", ""},
	}
	for _, tt := range tests {
		repo, tag := SplitImage(tt.image)
		if repo != tt.repo || tag != tt.tag {
			t.Errorf("SplitImage(%q) = %q, %q; want %q, %q", tt.image, repo, tag, tt.repo, tt.tag)
		}
	}
}

func TestParseMapRoles(t *testing.T) {
	roles, err := ParseMapRoles("- rolearn: arn:a\n  username: u\n  groups: [g]\n- username: no-arn\n")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "roles", len(roles), 1)
	check(t, "arn", roles[0].RoleARN, "arn:a")
	if roles, err := ParseMapRoles("  "); err != nil || roles != nil {
		t.Errorf("empty: %v, %v", roles, err)
	}
	if _, err := ParseMapRoles("rolearn: not-a-list"); err == nil {
		t.Error("a map instead of a list must fail")
	}
}

func TestFlagValue(t *testing.T) {
	c := &corev1.Container{Command: []string{"/karpenter"}, Args: []string{"--cluster-name", "demo", "--interruption-queue=q", "--x"}}
	check(t, "space form", flagValue(c, "cluster-name"), "demo")
	check(t, "equals form", flagValue(c, "interruption-queue"), "q")
	check(t, "absent", flagValue(c, "x"), "")
	check(t, "unknown", flagValue(c, "nope"), "")
}
