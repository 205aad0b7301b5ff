package translate

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestObjectName(t *testing.T) {
	cases := map[string]string{
		"workers":                     "workers",
		"Workers_GPU.v2":              "workers-gpu-v2",
		"--weird--":                   "weird",
		"":                            "pool",
		"eks-ng-ÄÖ":                   "eks-ng",
		"a" + strings.Repeat("b", 80): "",
	}
	for in, want := range cases {
		got := objectName(in)
		if want != "" && got != want {
			t.Errorf("objectName(%q) = %q, want %q", in, got, want)
		}
		if msgs := validation.IsDNS1123Label(got); len(msgs) > 0 {
			t.Errorf("objectName(%q) = %q is not a DNS label: %v", in, got, msgs)
		}
	}
	long1, long2 := objectName(strings.Repeat("x", 70)+"1"), objectName(strings.Repeat("x", 70)+"2")
	if long1 == long2 || len(long1) > 63 {
		t.Errorf("long names collide or are too long: %q %q", long1, long2)
	}
}

func TestMergedName(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"workers-us-east-1a", "workers-us-east-1b", "workers-us-east-1c"}, "workers"},
		{[]string{"api-a", "api-b"}, "api"},
		{[]string{"web1", "web2"}, "web"},
		{[]string{"team-web-az1", "team-web-az2"}, "team-web"},
		{[]string{"legacy", "parked"}, "legacy-parked"},
		{[]string{"solo"}, "solo"},
	}
	for _, tc := range cases {
		if got := mergedName(tc.in); got != tc.want {
			t.Errorf("mergedName(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := uniqueNames([]string{"a", "a", "a"}, map[string]bool{}); strings.Join(got, ",") != "a,a-2,a-3" {
		t.Errorf("uniqueNames: %v", got)
	}
}

func TestPriorityWeights(t *testing.T) {
	w := priorityWeights([]int{10, 50, 90, 50})
	if w[10] != 10 || w[50] != 50 || w[90] != 90 {
		t.Errorf("priorities within 1..100 must be kept: %v", w)
	}
	w = priorityWeights([]int{0, 1000, -3})
	if w[-3] != 1 || w[0] != 2 || w[1000] != 3 {
		t.Errorf("priorities outside 1..100 must be ranked: %v", w)
	}
	var many []int
	for i := 0; i < 250; i++ {
		many = append(many, i*7)
	}
	w = priorityWeights(many)
	prev := int32(0)
	for _, p := range many {
		if w[p] < 1 || w[p] > 100 || w[p] < prev {
			t.Fatalf("priority %d → weight %d (previous %d): not monotone within 1..100", p, w[p], prev)
		}
		prev = w[p]
	}
	if w[many[0]] != 1 || w[many[len(many)-1]] != 100 {
		t.Errorf("compression should span 1..100: %d..%d", w[many[0]], w[many[len(many)-1]])
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 10 * time.Minute: "10m", 90 * time.Second: "1m30s", 2*time.Hour + 5*time.Second: "2h5s", 1500 * time.Millisecond: "2s"} {
		if got := karpenterDuration(d); got != want {
			t.Errorf("karpenterDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if lifetime(604800) != "168h" || lifetime(90061) != "90061s" {
		t.Errorf("lifetime: %s %s", lifetime(604800), lifetime(90061))
	}
	for in, want := range map[string]string{"8h": "8h", "90m": "1h30m", "45m": "45m", "1h0m0s": "1h"} {
		if got, err := budgetDuration(in); err != nil || got != want {
			t.Errorf("budgetDuration(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"30s", "1h30s", "-1h", "soon"} {
		if _, err := budgetDuration(bad); err == nil {
			t.Errorf("budgetDuration(%q) accepted", bad)
		}
	}
}

func TestStripUserData(t *testing.T) {
	t.Run("AL2 only bootstrap", func(t *testing.T) {
		b := stripUserData(familyAL2, "#!/bin/bash\nset -ex\n/etc/eks/bootstrap.sh c --kubelet-extra-args \"--node-labels=a=b --register-with-taints=k=v:NoExecute,x:NoSchedule --max-pods=20 --v=2\"\n")
		if b.userData != nil {
			t.Errorf("nothing should be left: %q", *b.userData)
		}
		if b.labels["a"] != "b" || len(b.taints) != 2 || b.kubelet.k.MaxPods == nil || *b.kubelet.k.MaxPods != 20 {
			t.Errorf("labels %v taints %v kubelet %+v", b.labels, b.taints, b.kubelet.k)
		}
		if len(b.dropped) != 1 || !strings.Contains(b.dropped[0], "--v=2") {
			t.Errorf("dropped: %v", b.dropped)
		}
	})
	t.Run("AL2 unresolved variable", func(t *testing.T) {
		b := stripUserData(familyAL2, "#!/bin/bash\n/etc/eks/bootstrap.sh c --kubelet-extra-args \"$EXTRA\"\necho done\n")
		if b.userData == nil || !strings.Contains(*b.userData, "echo done") || len(b.dropped) != 1 {
			t.Errorf("userData %v dropped %v", b.userData, b.dropped)
		}
	})
	t.Run("AL2023 NodeConfig only cluster", func(t *testing.T) {
		b := stripUserData(familyAL2023, "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: c\n")
		if b.userData != nil {
			t.Errorf("left: %q", *b.userData)
		}
	})
	t.Run("Bottlerocket keeps other settings", func(t *testing.T) {
		b := stripUserData(familyBottlerocket, "[settings.kubernetes]\ncluster-name = \"c\"\nmax-pods = 30\n\n[settings.host-containers.admin]\nenabled = true\n")
		if b.userData == nil || *b.userData != "[settings.host-containers.admin]\nenabled = true\n" {
			t.Errorf("left: %v", b.userData)
		}
		if b.kubelet.k.MaxPods == nil || *b.kubelet.k.MaxPods != 30 {
			t.Errorf("max-pods not moved")
		}
	})
	t.Run("Bottlerocket dotted keys", func(t *testing.T) {
		b := stripUserData(familyBottlerocket, "[settings]\nkubernetes.cluster-name = \"c\"\nkubernetes.node-labels.team = \"x\"\nmotd = \"hi\"\n")
		if b.labels["team"] != "x" || b.userData == nil || strings.Contains(*b.userData, "cluster-name") {
			t.Errorf("labels %v userData %v", b.labels, b.userData)
		}
	})
	t.Run("Custom kept verbatim", func(t *testing.T) {
		ud := "#!/bin/bash\n/etc/eks/bootstrap.sh c\n"
		b := stripUserData(familyCustom, ud)
		if b.userData == nil || *b.userData != ud {
			t.Errorf("custom user data changed: %v", b.userData)
		}
	})
	t.Run("garbage MIME is treated as a script", func(t *testing.T) {
		b := stripUserData(familyAL2, "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nnot really")
		if b.userData == nil {
			t.Error("content lost")
		}
	})
}

func TestShellWords(t *testing.T) {
	got := shellWords(`a 'b c' "d \"e\"" f\ g`)
	want := []string{"a", "b c", `d "e"`, "f g"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFamilyFromUserData(t *testing.T) {
	for ud, want := range map[string]string{
		"/etc/eks/bootstrap.sh c":                     familyAL2,
		"apiVersion: node.eks.aws/v1alpha1":           familyAL2023,
		"[settings.kubernetes]\napi-server = \"x\"":   familyBottlerocket,
		"& $EKSBootstrapScriptFile -EKSClusterName c": familyWindows2022,
		"#!/bin/bash\necho":                           familyCustom,
		"":                                            familyCustom,
	} {
		if got := familyFromUserData(ud); got != want {
			t.Errorf("familyFromUserData(%q) = %s, want %s", ud, got, want)
		}
	}
}

func TestEKSAMI(t *testing.T) {
	cases := []struct {
		amiType, release, want, family, arch, variant string
	}{
		{"AL2023_ARM_64_STANDARD", "1.30.0-20240625", "al2023@v20240625", familyAL2023, "arm64", ""},
		{"AL2_x86_64_GPU", "1.29.3-20240531", "al2@v20240531", familyAL2, "amd64", variantAL2GPU},
		{"BOTTLEROCKET_ARM_64_NVIDIA", "1.20.4-5ca2a4d0", "bottlerocket@v1.20.4", familyBottlerocket, "arm64", variantNvidia},
		{"BOTTLEROCKET_x86_64", "garbage", "bottlerocket@latest", familyBottlerocket, "amd64", ""},
		{"WINDOWS_CORE_2019_x86_64", "1.30.0-20240625", "windows2019@latest", familyWindows2019, "amd64", ""},
	}
	for _, tc := range cases {
		c, _, err := eksAMI(tc.amiType, tc.release, "1.30", false)
		if err != nil || c.terms[0].Alias != tc.want || c.family != tc.family || c.arch != tc.arch || c.variant != tc.variant {
			t.Errorf("%s: %+v %v", tc.amiType, c, err)
		}
	}
	c, _, _ := eksAMI("BOTTLEROCKET_ARM_64_NVIDIA_FIPS", "1.20.4-5ca2a4d0", "1.30", false)
	if c.terms[0].SSMParameter != "/aws/service/bottlerocket/aws-k8s-1.30-nvidia-fips/arm64/1.20.4/image_id" || !c.explicitFamily {
		t.Errorf("FIPS: %+v", c)
	}
	if _, _, err := eksAMI("UBUNTU_x86_64", "", "1.30", false); err == nil {
		t.Error("unknown amiType accepted")
	}
}
