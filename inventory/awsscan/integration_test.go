package awsscan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsapi/fake"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

// TestMoto runs Scan with the real SDK clients against a real moto_server holding a
// fixture built through the SDK, and checks the snapshot (golden file and field by
// field), that the scan made read calls only, and the error paths moto can produce.
func TestMoto(t *testing.T) {
	endpoint := startMoto(t)
	rec := &recorder{next: http.DefaultTransport}
	cfg := motoConfig(t, endpoint, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	stopFixture := rec.record()
	start := time.Now()
	fx, err := buildFixture(ctx, cfg, endpoint)
	if err != nil {
		t.Fatalf("building the fixture: %v", err)
	}
	fixtureReqs := stopFixture()
	t.Logf("fixture: %d requests in %v", len(fixtureReqs), time.Since(start).Round(time.Millisecond))

	clients := awsapi.NewClients(cfg)
	opts := Options{
		Cluster: fixtureCluster, Region: "us-west-2",
		AutoDiscovery: []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/" + fixtureCluster},
		NodesFlags:    []snapshot.NodesFlag{{Min: 0, Max: 4, Name: "sm-gpu"}},
	}
	stopScan := rec.record()
	start = time.Now()
	res, err := Scan(ctx, clients, opts)
	scanReqs := stopScan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	t.Logf("scan: %d requests in %v", len(scanReqs), time.Since(start).Round(time.Millisecond))

	t.Run("read-only", func(t *testing.T) {
		checkReadOnly(t, fixtureReqs, scanReqs)
	})
	t.Run("golden", func(t *testing.T) {
		checkGolden(t, "moto.golden.yaml", normalise(t, resultYAML(t, normaliseIDs(t, res, fx))))
	})
	t.Run("fields", func(t *testing.T) {
		checkMotoFields(t, res, fx)
	})
	t.Run("cluster not found", func(t *testing.T) {
		_, err := Scan(ctx, clients, Options{Cluster: "nope", Region: "us-west-2"})
		if !errors.Is(err, ErrClusterNotFound) || err.Error() != `cluster "nope" not found in region us-west-2` {
			t.Fatalf("err = %v, want ErrClusterNotFound with a one-line message", err)
		}
	})
	t.Run("unimplemented route is judged by status", func(t *testing.T) {
		// moto has no ListAddons: a 404 HTML page, which the SDK cannot decode.
		_, err := eks.NewFromConfig(cfg).ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String(fixtureCluster)})
		if got := awsapi.Classify(err); got != awsapi.ErrNotImplemented {
			t.Fatalf("Classify(%v) = %v, want ErrNotImplemented", err, got)
		}
	})
	t.Run("access denied on DescribeInstanceTypes", func(t *testing.T) {
		c := clients
		c.EC2 = deniedInstanceTypes{EC2: clients.EC2}
		res, err := Scan(ctx, c, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.InstanceTypes) != 0 || !slices.Contains(res.Warnings,
			"access denied to ec2:DescribeInstanceTypes; instance types were not read (the offline catalog can stand in)") {
			t.Errorf("instance types %d, warnings %q", len(res.InstanceTypes), res.Warnings)
		}
		if len(res.Groups) != len(groupNamesMoto) {
			t.Errorf("groups = %v", groupNames(res))
		}
	})
}

// deniedInstanceTypes is the real EC2 client with DescribeInstanceTypes refused.
type deniedInstanceTypes struct{ awsapi.EC2 }

func (deniedInstanceTypes) DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return nil, fake.APIError(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
}

func checkReadOnly(t *testing.T, fixtureReqs, scanReqs []request) {
	// The check itself must be able to fail: the fixture's calls are writes.
	var writes int
	for _, r := range fixtureReqs {
		if !r.readOnly() {
			writes++
		}
	}
	if writes < 10 {
		t.Fatalf("the read-only check saw only %d writes among the fixture's %d requests; it cannot tell", writes, len(fixtureReqs))
	}
	if len(scanReqs) == 0 {
		t.Fatal("no request was recorded during the scan")
	}
	seen := map[string]bool{}
	for _, r := range scanReqs {
		if !r.readOnly() {
			t.Errorf("the scan sent a mutating request: %s", r)
		}
		op := r.Action
		if op == "" {
			op = r.Method + " " + restRoute(r.Path)
		}
		seen[r.Service+":"+op] = true
	}
	for _, want := range []string{
		"eks:GET /clusters/{name}", "eks:GET /clusters/{name}/node-groups", "eks:GET /clusters/{name}/node-groups/{name}",
		"eks:GET /clusters/{name}/fargate-profiles", "eks:GET /clusters/{name}/fargate-profiles/{name}",
		"autoscaling:DescribeAutoScalingGroups", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeSubnets",
		"ec2:DescribeInstanceTypes", "ec2:DescribeInstances",
	} {
		if !seen[want] {
			t.Errorf("the scan never made %s (made %v)", want, sortedKeys(seen))
		}
	}
}

var restSegment = regexp.MustCompile(`/(clusters|node-groups|fargate-profiles)/[^/]+`)

func restRoute(path string) string { return restSegment.ReplaceAllString(path, "/$1/{name}") }

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var groupNamesMoto = []string{"custom-lt/managed", "general/managed", "gpu/managed", "sm-gpu/self-managed",
	"sm-legacy/self-managed", "sm-mixed/self-managed", "spot-arm/managed"}

func checkMotoFields(t *testing.T, res *Result, fx *fixture) {
	if got := groupNames(res); !slices.Equal(got, groupNamesMoto) {
		t.Fatalf("groups = %v, want %v (unrelated is untagged; the MNG ASGs are not groups of their own)", got, groupNamesMoto)
	}
	c := res.Cluster
	if c.Name != fixtureCluster || c.Version != "1.31" || c.AccountID != fixtureAccount || c.Region != "us-west-2" ||
		!strings.HasPrefix(c.OIDCIssuer, "https://oidc.eks.us-west-2.amazonaws.com/id/") || c.Tags["team"] != "platform" ||
		len(c.SubnetIDs) != 3 || len(c.SecurityGroupIDs) != 1 {
		t.Errorf("cluster = %+v", c)
	}
	zones := map[string]string{}
	for _, s := range res.Subnets {
		zones[s.ID] = s.AvailabilityZone
	}
	for i, id := range fx.subnets {
		if want := "us-west-2" + string(rune('a'+i)); zones[id] != want {
			t.Errorf("subnet %s zone = %q, want %s", id, zones[id], want)
		}
	}

	general := group(t, res, "general")
	ng := general.Nodegroup
	if ng.AmiType != "AL2023_x86_64_STANDARD" || ng.CapacityType != "ON_DEMAND" || !slices.Equal(ng.InstanceTypes, []string{"m5.large", "m5.xlarge"}) ||
		ng.Version != "1.31" || ng.Scaling != (snapshot.ScalingConfig{MinSize: 1, MaxSize: 6, DesiredSize: 2}) || val(ng.DiskSize) != 50 ||
		ng.Labels["role"] != "general" || val(ng.UpdateConfig.MaxUnavailable) != 1 || len(ng.Subnets) != 3 || ng.NodeRole == "" {
		t.Errorf("general nodegroup = %+v", ng)
	}
	if general.ASG == nil || general.ASG.Name != ng.ASGNames[0] || len(general.ASG.Instances) != 2 || !general.Autoscaler.InScope {
		t.Errorf("general ASG = %+v, autoscaler %+v", general.ASG, general.Autoscaler)
	}

	spot := group(t, res, "spot-arm")
	wantTaints := []snapshot.NodegroupTaint{{Key: "dedicated", Value: "arm", Effect: "NO_SCHEDULE"}, {Key: "spot", Effect: "PREFER_NO_SCHEDULE"}}
	if spot.Nodegroup.CapacityType != "SPOT" || spot.Nodegroup.AmiType != "BOTTLEROCKET_ARM_64" || !slices.Equal(spot.Nodegroup.Taints, wantTaints) ||
		spot.Nodegroup.Labels["lifecycle"] != "spot" || val(spot.Nodegroup.UpdateConfig.MaxUnavailablePercentage) != 33 {
		t.Errorf("spot-arm nodegroup = %+v", spot.Nodegroup)
	}
	gpu := group(t, res, "gpu")
	if gpu.Nodegroup.AmiType != "AL2023_x86_64_NVIDIA" || !slices.Equal(gpu.Nodegroup.Taints, []snapshot.NodegroupTaint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NO_SCHEDULE"}}) {
		t.Errorf("gpu nodegroup = %+v", gpu.Nodegroup)
	}
	custom := group(t, res, "custom-lt")
	// moto reports its defaults for a launch-template nodegroup; the snapshot says what the API says.
	if lt := custom.Nodegroup.LaunchTemplate; lt == nil || lt.Version != "1" || custom.Nodegroup.AmiType != "AL2_x86_64" ||
		!slices.Equal(custom.Nodegroup.InstanceTypes, []string{"t3.medium"}) {
		t.Errorf("custom-lt nodegroup = %+v", custom.Nodegroup)
	}
	customLT := findLT(t, res, custom.Nodegroup.LaunchTemplate.ID, "1", "")
	if !strings.Contains(customLT.UserData, "kind: NodeConfig") || customLT.ImageID != fixtureAMI || customLT.InstanceType != "c5.large" ||
		customLT.MetadataOptions == nil || val(customLT.MetadataOptions.HttpPutResponseHopLimit) != 2 || customLT.MetadataOptions.HttpTokens != "required" ||
		len(customLT.SecurityGroupIDs) != 1 || len(customLT.BlockDeviceMappings) != 1 || val(customLT.BlockDeviceMappings[0].EBS.VolumeSize) != 100 ||
		customLT.BlockDeviceMappings[0].EBS.VolumeType != "gp3" || !val(customLT.BlockDeviceMappings[0].EBS.Encrypted) {
		t.Errorf("custom launch template = %+v", customLT)
	}

	mixed := group(t, res, "sm-mixed")
	m := mixed.ASG.MixedInstancesPolicy
	if m == nil || len(m.Overrides) != 3 || m.Overrides[1].WeightedCapacity != "1" || m.Overrides[2].LaunchTemplate.Name != "sm-arm" ||
		val(m.Distribution.OnDemandBaseCapacity) != 2 || val(m.Distribution.OnDemandPercentageAboveBaseCapacity) != 25 ||
		m.Distribution.SpotAllocationStrategy != "price-capacity-optimized" || !mixed.ASG.CapacityRebalance {
		t.Fatalf("sm-mixed policy = %+v", m)
	}
	if latest := findLT(t, res, m.LaunchTemplate.ID, "2", "$Latest"); latest.KeyName != "ops" {
		t.Errorf("$Latest of sm-mixed = %+v, want version 2 (KeyName ops)", latest)
	}
	if arm := findLTByName(t, res, "sm-arm"); arm.Requested != "$Default" || !slices.Equal(arm.Dropped, []string{"EbsOptimized"}) {
		t.Errorf("sm-arm = %+v", arm)
	}

	smGPU := group(t, res, "sm-gpu")
	a := smGPU.Autoscaler
	wantTemplate := []corev1.Taint{{Key: "dedicated", Effect: "NoExecute"}, {Key: "nvidia.com/gpu", Value: "true", Effect: "NoSchedule"}}
	if !a.InScope || a.ScopeReason != "--nodes=0:4:sm-gpu" || val(a.NodesMax) != 4 || !slices.Equal(a.TemplateTaints, wantTemplate) ||
		a.TemplateLabels["nvidia.com/gpu.present"] != "true" || a.TemplateResources["ephemeral-storage"] != "100G" ||
		a.Options["scaledownutilizationthreshold"] != "0.4" || a.Options["scaledownunneededtime"] != "5m0s" {
		t.Errorf("sm-gpu autoscaler = %+v", a)
	}
	if len(smGPU.ASG.TargetGroupARNs) != 1 || smGPU.ASG.LaunchTemplate.Version != "$Default" {
		t.Errorf("sm-gpu ASG = %+v", smGPU.ASG)
	}
	if legacy := group(t, res, "sm-legacy"); legacy.Autoscaler.InScope {
		t.Errorf("sm-legacy is only tagged for the cluster, yet in CA's scope: %+v", legacy.Autoscaler)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, `taint/broken" has value "NoSchedule"`) }) {
		t.Errorf("no warning about the malformed taint tag: %q", res.Warnings)
	}

	types := map[string]snapshot.InstanceType{}
	for _, it := range res.InstanceTypes {
		types[it.Name] = it
	}
	for _, name := range []string{"m5.large", "m5.xlarge", "m5a.large", "m6g.large", "m7g.large", "g5.xlarge", "c5.large", "t3.medium"} {
		if _, ok := types[name]; !ok {
			t.Errorf("instance type %s was not read (have %d)", name, len(types))
		}
	}
	if g := types["g5.xlarge"]; g.GPUCount != 1 || g.GPUManufacturer != "NVIDIA" || g.VCPU != 4 || g.MemoryMiB != 16384 || g.MaxENIs == 0 {
		t.Errorf("g5.xlarge = %+v", g)
	}
	if g := types["m6g.large"]; !slices.Equal(g.Architectures, []string{"arm64"}) {
		t.Errorf("m6g.large = %+v", g)
	}

	if len(res.FargateProfiles) != 1 || res.FargateProfiles[0].Name != "system" || len(res.FargateProfiles[0].Selectors) != 2 ||
		res.FargateProfiles[0].Selectors[1].Labels["k8s-app"] != "kube-dns" || len(res.FargateProfiles[0].Subnets) != 2 {
		t.Errorf("fargate profiles = %+v", res.FargateProfiles)
	}
}

func findLT(t *testing.T, r *Result, id, version, requested string) snapshot.LaunchTemplate {
	t.Helper()
	for _, lt := range r.LaunchTemplates {
		if lt.ID == id && lt.Version == version && lt.Requested == requested {
			return lt
		}
	}
	t.Fatalf("no launch template %s version %s requested %q", id, version, requested)
	return snapshot.LaunchTemplate{}
}

func findLTByName(t *testing.T, r *Result, name string) snapshot.LaunchTemplate {
	t.Helper()
	for _, lt := range r.LaunchTemplates {
		if lt.Name == name {
			return lt
		}
	}
	t.Fatalf("no launch template named %s", name)
	return snapshot.LaunchTemplate{}
}

// normaliseIDs replaces the ids moto chose at random with the fixture's stable names,
// before sorting (several lists sort by id). Instances get <group>-<n>.
func normaliseIDs(t *testing.T, res *Result, fx *fixture) *Result {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	keys := make([]string, 0, len(fx.ids))
	for k := range fx.ids {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) }) // longest first
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, fx.ids[k])
	}
	var out Result
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	for _, g := range out.Groups {
		if g.ASG == nil {
			continue
		}
		slices.SortFunc(g.ASG.Instances, func(a, b snapshot.ASGInstance) int { return strings.Compare(a.ID, b.ID) })
		for i := range g.ASG.Instances {
			g.ASG.Instances[i].ID = fmt.Sprintf("i-%s-%d", g.Name, i)
		}
	}
	sortResult(&out) // lists sorted by random ids sort again by the stable names
	return &out
}

var randomParts = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`https://[A-Za-z0-9]+\.[A-Za-z0-9]+\.us-west-2\.eks\.amazonaws\.com/?`), "https://ENDPOINT.us-west-2.eks.amazonaws.com/"},
	{regexp.MustCompile(`(oidc\.eks\.us-west-2\.amazonaws\.com/id/)[A-Za-z0-9]+`), "${1}ISSUER"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "00000000-0000-0000-0000-000000000000"},
}

// normalise blanks what is random but not an id of the fixture (endpoint, issuer, ASG
// ARN uuids), after sorting.
func normalise(t *testing.T, b []byte) []byte {
	t.Helper()
	for _, r := range randomParts {
		b = r.re.ReplaceAll(b, []byte(r.with))
	}
	return b
}

// val dereferences p, or returns the zero value for nil, so a missing field fails the
// comparison instead of the test binary.
func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
