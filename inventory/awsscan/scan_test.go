package awsscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	corev1 "k8s.io/api/core/v1"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsapi/fake"
	"github.com/karpshift/karpshift/inventory/snapshot"
)

var prodDiscovery = []string{"asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/prod"}

func scanFake(t *testing.T, w *fakeWorld, opts Options) *Result {
	t.Helper()
	if opts.Cluster == "" {
		opts.Cluster, opts.Region = "prod", "us-west-2"
	}
	res, err := Scan(context.Background(), w.clients(), opts)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

func group(t *testing.T, r *Result, name string) snapshot.Group {
	t.Helper()
	for _, g := range r.Groups {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no group %q in %v", name, groupNames(r))
	return snapshot.Group{}
}

func groupNames(r *Result) []string {
	var out []string
	for _, g := range r.Groups {
		out = append(out, g.Name+"/"+string(g.Kind))
	}
	return out
}

func TestScanFakeGolden(t *testing.T) {
	w := newFakeWorld()
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery, NodesFlags: []snapshot.NodesFlag{{Min: 1, Max: 4, Name: "sm-gpu"}}})
	checkGolden(t, "fake.golden.yaml", resultYAML(t, res))
}

func TestScanFakeGroups(t *testing.T) {
	w := newFakeWorld()
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery, NodesFlags: []snapshot.NodesFlag{{Min: 1, Max: 4, Name: "sm-gpu"}}})

	want := []string{"custom-lt/managed", "general/managed", "orphan/managed", "sm-gpu/self-managed", "sm-mixed/self-managed", "spot-arm/managed"}
	if got := groupNames(res); !slices.Equal(got, want) {
		t.Fatalf("groups = %v, want %v (eks-other belongs to another cluster, unrelated is not tagged)", got, want)
	}

	general := group(t, res, "general")
	if general.ASG == nil || general.ASG.Name != "eks-general" {
		t.Fatalf("general's ASG = %+v, want eks-general", general.ASG)
	}
	if !slices.Equal(general.Nodegroup.InstanceTypes, []string{"m5.xlarge", "m5.large"}) {
		t.Errorf("instanceTypes = %v: the API order must be kept", general.Nodegroup.InstanceTypes)
	}
	if a := general.Autoscaler; !a.InScope || a.ScopeReason != "--node-group-auto-discovery="+prodDiscovery[0] {
		t.Errorf("general autoscaler = %+v", a)
	}
	if ng := general.Nodegroup; ng.UpdateConfig == nil || *ng.UpdateConfig.MaxUnavailablePercentage != 33 ||
		ng.RemoteAccessSecurityGroup != "sg-remote" || ng.NodeRepairEnabled == nil || !*ng.NodeRepairEnabled || *ng.DiskSize != 50 {
		t.Errorf("general nodegroup fields lost: %+v", ng)
	}

	spot := group(t, res, "spot-arm")
	if got := spot.Nodegroup.Taints; len(got) != 2 || got[0] != (snapshot.NodegroupTaint{Key: "arm", Effect: "PREFER_NO_SCHEDULE"}) {
		t.Errorf("spot taints = %+v", got)
	}
	if spot.ASG.Instances[0].Lifecycle != "spot" {
		t.Errorf("spot instance lifecycle = %q, want spot (from DescribeInstances)", spot.ASG.Instances[0].Lifecycle)
	}
	if len(spot.Nodegroup.HealthIssues) != 1 || !strings.Contains(spot.Nodegroup.HealthIssues[0], "AsgInstanceLaunchFailures: quota (eks-spot-arm)") {
		t.Errorf("health issues = %v", spot.Nodegroup.HealthIssues)
	}

	orphan := group(t, res, "orphan")
	if orphan.ASG != nil || orphan.Autoscaler.InScope {
		t.Errorf("orphan: ASG %v, autoscaler %+v; its ASG does not exist, so CA cannot see it", orphan.ASG, orphan.Autoscaler)
	}

	gpu := group(t, res, "sm-gpu")
	a := gpu.Autoscaler
	if !a.InScope || a.ScopeReason != "--nodes=1:4:sm-gpu" || *a.NodesMin != 1 || *a.NodesMax != 4 {
		t.Errorf("sm-gpu scope = %+v", a)
	}
	wantTaints := []corev1.Taint{
		{Key: "dedicated", Value: "", Effect: corev1.TaintEffectNoExecute},
		{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule},
	}
	if !slices.Equal(a.TemplateTaints, wantTaints) {
		t.Errorf("template taints = %+v, want %+v", a.TemplateTaints, wantTaints)
	}
	if a.TemplateLabels["nvidia.com/gpu.present"] != "true" || a.TemplateResources["ephemeral-storage"] != "100G" ||
		a.Options["scaledownunneededtime"] != "5m0s" {
		t.Errorf("template hints = %+v", a)
	}
	if gpu.ASG.LaunchTemplate.Version != "$Default" || *gpu.ASG.MaxInstanceLifetime != 604800 || len(gpu.ASG.TargetGroupARNs) != 1 {
		t.Errorf("sm-gpu ASG = %+v", gpu.ASG)
	}

	mixed := group(t, res, "sm-mixed")
	m := mixed.ASG.MixedInstancesPolicy
	if m == nil || len(m.Overrides) != 3 || m.Overrides[2].LaunchTemplate.ID != "lt-custom" || *m.Distribution.OnDemandPercentageAboveBaseCapacity != 25 {
		t.Fatalf("sm-mixed policy = %+v", m)
	}
	if !slices.Equal(mixed.ASG.SubnetIDs, []string{"subnet-a", "subnet-b"}) {
		t.Errorf("subnets = %q: VPCZoneIdentifier must be split and trimmed", mixed.ASG.SubnetIDs)
	}
}

func TestScanFakeLaunchTemplates(t *testing.T) {
	w := newFakeWorld()
	// A third version nobody refers to: neither $Default nor "2" may resolve to it.
	w.ec2.AddLaunchTemplateVersion("lt-custom", ec2types.ResponseLaunchTemplateData{ImageId: aws.String("ami-3")})
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery, NodesFlags: []snapshot.NodesFlag{{Min: 1, Max: 4, Name: "sm-gpu"}}})
	type key struct{ id, version, requested, image string }
	var got []key
	for _, lt := range res.LaunchTemplates {
		got = append(got, key{lt.ID, lt.Version, lt.Requested, lt.ImageID})
	}
	want := []key{
		{"lt-custom", "1", "$Default", "ami-1"}, // override without version
		{"lt-custom", "2", "", "ami-2"},         // nodegroup, version 2
		{"lt-gpu", "1", "$Default", "ami-gpu"},  // ASG without version
		{"lt-mixed", "2", "$Latest", "ami-m2"},  // by name, $Latest
	}
	if !slices.Equal(got, want) {
		t.Errorf("launch templates = %+v\nwant %+v", got, want)
	}
	lt := res.LaunchTemplates[1]
	if lt.UserData != "#!/bin/bash\necho hi\n" || *lt.MetadataOptions.HttpPutResponseHopLimit != 2 ||
		!slices.Equal(lt.Dropped, []string{"CpuOptions", "EbsOptimized"}) || *lt.BlockDeviceMappings[0].EBS.VolumeSize != 100 {
		t.Errorf("lt-custom v2 = %+v", lt)
	}
	// One call per template, versions batched.
	if n := w.ec2.Count("DescribeLaunchTemplateVersions"); n != 4 {
		t.Errorf("DescribeLaunchTemplateVersions called %d times, want 4 (lt-custom, lt-gone, lt-gpu, mixed)", n)
	}
}

func TestScanFakeWarnings(t *testing.T) {
	w := newFakeWorld()
	res := scanFake(t, w, Options{AutoDiscovery: append(prodDiscovery, "mig:foo"), NodesFlags: []snapshot.NodesFlag{{Min: 1, Max: 4, Name: "sm-gpu"}, {Min: 0, Max: 1, Name: "gone"}}})
	want := []string{
		`Auto Scaling group "eks-orphan" behind nodegroup "orphan" was not found`,
		`Auto Scaling group "sm-gpu": tag "k8s.io/cluster-autoscaler/node-template/autoscaling-options/bogus" is not an option Cluster Autoscaler reads (scaledownutilizationthreshold, scaledowngpuutilizationthreshold, scaledownunneededtime, scaledownunreadytime, ignoredaemonsetsutilization)`,
		`Auto Scaling group "sm-gpu": tag "k8s.io/cluster-autoscaler/node-template/taint/broken" has value "NoSchedule", not <value>:NoSchedule|NoExecute|PreferNoSchedule; the taint is ignored`,
		`Auto Scaling group "sm-mixed" has a warm pool, which the snapshot does not record and Karpenter cannot carry over`,
		`Cluster Autoscaler's --nodes names Auto Scaling group "gone", which was not found`,
		`auto-discovery spec "mig:foo" is not of the form asg:tag=<key>[=<value>],...; Cluster Autoscaler rejects it, so it selects no group`,
		`launch template lt-gone version 1: The specified launch template, with template ID lt-gone, does not exist.`,
		`launch template lt-mixed version 2: userData is not base64 (illegal base64 data at input byte 3); kept as is`,
		`subnet subnet-gone was not found`,
	}
	if !slices.Equal(res.Warnings, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(res.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestScanFakeBroadDiscovery(t *testing.T) {
	// asg:tag=k8s.io/cluster-autoscaler/enabled alone also selects other clusters' ASGs,
	// as it does for CA itself.
	w := newFakeWorld()
	res := scanFake(t, w, Options{AutoDiscovery: []string{"asg:tag=k8s.io/cluster-autoscaler/enabled"}})
	if g := group(t, res, "staging-sm"); !g.Autoscaler.InScope {
		t.Errorf("staging-sm = %+v: CA manages it", g.Autoscaler)
	}
	for _, want := range []string{
		`Auto Scaling group "eks-other" belongs to managed node group "web" of cluster "staging", which is not a nodegroup of this cluster; it is skipped`,
		`Auto Scaling group "staging-sm" is tagged for cluster "staging", not "prod"`,
	} {
		if !slices.Contains(res.Warnings, want) {
			t.Errorf("warnings = %q\nwant %q", res.Warnings, want)
		}
	}
	for _, g := range res.Groups {
		if g.Name == "eks-other" {
			t.Error("another cluster's managed node group ASG became a group")
		}
	}
}

func TestScanFakeNoCAInfo(t *testing.T) {
	w := newFakeWorld()
	res := scanFake(t, w, Options{})
	if g := group(t, res, "general"); !g.Autoscaler.InScope || !strings.Contains(g.Autoscaler.ScopeReason, "default auto-discovery tags") {
		t.Errorf("general = %+v: its ASG carries CA's default tags", g.Autoscaler)
	}
	if g := group(t, res, "sm-gpu"); g.Autoscaler.InScope || g.Autoscaler.NodesMin != nil {
		t.Errorf("sm-gpu = %+v: tagged for the cluster but not for CA", g.Autoscaler)
	}
	if g := group(t, res, "sm-mixed"); !g.Autoscaler.InScope {
		t.Errorf("sm-mixed = %+v", g.Autoscaler)
	}
}

func TestScanFakeCAScopeExcludes(t *testing.T) {
	w := newFakeWorld()
	// Only --nodes: the MNG ASGs stay groups but are out of CA's scope.
	res := scanFake(t, w, Options{NodesFlags: []snapshot.NodesFlag{{Min: 0, Max: 3, Name: "sm-mixed"}}})
	if g := group(t, res, "general"); g.Autoscaler.InScope {
		t.Errorf("general in scope without a matching flag: %+v", g.Autoscaler)
	}
	if g := group(t, res, "sm-mixed"); !g.Autoscaler.InScope || *g.Autoscaler.NodesMax != 3 {
		t.Errorf("sm-mixed = %+v", g.Autoscaler)
	}
}

func TestScanDeterministic(t *testing.T) {
	w := newFakeWorld()
	first := resultYAML(t, scanFake(t, w, Options{AutoDiscovery: prodDiscovery, Concurrency: 8}))
	for range 5 {
		if got := resultYAML(t, scanFake(t, w, Options{AutoDiscovery: prodDiscovery, Concurrency: 8})); string(got) != string(first) {
			t.Fatalf("two scans differ:\n%s", lineDiff(string(first), string(got)))
		}
	}
}

func TestScanLogsProgress(t *testing.T) {
	w := newFakeWorld()
	var buf bytes.Buffer
	scanFake(t, w, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for _, want := range []string{"describing EKS cluster", "read managed node groups", "count=4", "read instance types"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestScanWarnsAboutInactiveCluster(t *testing.T) {
	w := newFakeWorld()
	out, _ := w.eks.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("prod")})
	c := *out.Cluster
	c.Status = "UPDATING"
	w.eks.PutCluster(c)
	res := scanFake(t, w, Options{})
	if !slices.Contains(res.Warnings, `cluster "prod" is UPDATING, not ACTIVE; what was read may be changing`) {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestScanClusterNotFound(t *testing.T) {
	w := newFakeWorld()
	_, err := Scan(context.Background(), w.clients(), Options{Cluster: "nope", Region: "eu-west-1"})
	if !errors.Is(err, ErrClusterNotFound) {
		t.Fatalf("err = %v, want ErrClusterNotFound", err)
	}
	if got := err.Error(); got != `cluster "nope" not found in region eu-west-1` {
		t.Errorf("message = %q", got)
	}
	if n := w.eks.Count("ListNodegroups"); n != 0 {
		t.Errorf("the scan went on after DescribeCluster failed (%d ListNodegroups)", n)
	}
}

func TestScanCredentials(t *testing.T) {
	for name, injected := range map[string]error{
		"rejected": fake.APIError(403, "UnrecognizedClientException", "The security token included in the request is invalid."),
		"expired":  fake.APIError(400, "ExpiredTokenException", "The security token included in the request is expired"),
		"missing":  fake.CredentialsError(),
	} {
		t.Run(name, func(t *testing.T) {
			w := newFakeWorld()
			w.eks.Fail("DescribeCluster", injected)
			_, err := Scan(context.Background(), w.clients(), Options{Cluster: "prod", Region: "us-west-2"})
			if !errors.Is(err, ErrCredentials) {
				t.Fatalf("err = %v, want ErrCredentials", err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "AWS credentials are missing, invalid or expired (eks:DescribeCluster: ") {
				t.Errorf("message is not one clear line: %q", msg)
			}
			var se *Error
			if !errors.As(err, &se) || se.Op != "eks:DescribeCluster" {
				t.Errorf("err is not an *Error for eks:DescribeCluster: %#v", err)
			}
		})
	}
}

func TestScanCredentialsExpireMidScan(t *testing.T) {
	w := newFakeWorld()
	w.ec2.Fail("DescribeSubnets", fake.APIError(401, "AuthFailure", "AWS was not able to validate the provided access credentials"))
	_, err := Scan(context.Background(), w.clients(), Options{Cluster: "prod"})
	if !errors.Is(err, ErrCredentials) {
		t.Fatalf("err = %v, want ErrCredentials (never a mere warning)", err)
	}
}

func TestScanAccessDeniedOnDescribeCluster(t *testing.T) {
	w := newFakeWorld()
	w.eks.Fail("DescribeCluster", fake.APIError(403, "AccessDeniedException", "User: x is not authorized to perform: eks:DescribeCluster"))
	_, err := Scan(context.Background(), w.clients(), Options{Cluster: "prod", Region: "us-west-2"})
	if !errors.Is(err, ErrAccessDenied) || !strings.HasPrefix(err.Error(), `access denied: eks:DescribeCluster on cluster "prod" in region us-west-2: User: x`) {
		t.Fatalf("err = %v", err)
	}
}

func TestScanAccessDeniedOnDescribeInstanceTypesWarns(t *testing.T) {
	w := newFakeWorld()
	w.ec2.Fail("DescribeInstanceTypes", fake.APIError(403, "UnauthorizedOperation", "You are not authorized to perform this operation."))
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery})
	if len(res.InstanceTypes) != 0 {
		t.Errorf("instance types = %v", res.InstanceTypes)
	}
	want := "access denied to ec2:DescribeInstanceTypes; instance types were not read (the offline catalog can stand in)"
	if !slices.Contains(res.Warnings, want) {
		t.Errorf("warnings = %q, want one %q", res.Warnings, want)
	}
	for _, wr := range res.Warnings {
		if strings.HasPrefix(wr, "instance type ") {
			t.Errorf("a denied call must not also report every type as unknown: %q", wr)
		}
	}
	if len(res.Groups) != 6 || len(res.Subnets) != 3 {
		t.Errorf("the rest of the scan must go on: %d groups, %d subnets", len(res.Groups), len(res.Subnets))
	}
}

func TestScanOptionalCallsDegrade(t *testing.T) {
	w := newFakeWorld()
	w.eks.Fail("ListFargateProfiles", fake.HTMLError(404)) // moto: route not implemented
	w.ec2.Fail("DescribeInstances", fake.APIError(403, "UnauthorizedOperation", "no"))
	w.asg.Fail("DescribeAutoScalingGroups", fake.APIError(403, "AccessDenied", "no"))
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery})
	for _, want := range []string{
		"the AWS endpoint does not implement eks:ListFargateProfiles (HTTP 404); Fargate profiles were not read",
		"access denied to autoscaling:DescribeAutoScalingGroups; Auto Scaling groups were not read (no self-managed groups, no CA tags)",
	} {
		if !slices.Contains(res.Warnings, want) {
			t.Errorf("warnings = %q\nwant %q", res.Warnings, want)
		}
	}
	if len(res.Groups) != 4 {
		t.Errorf("groups = %v, want the 4 nodegroups without ASGs", groupNames(res))
	}
	for _, g := range res.Groups {
		if g.Autoscaler.InScope || g.Autoscaler.ScopeReason != "unknown: the Auto Scaling groups could not be read" {
			t.Errorf("%s: %+v", g.Name, g.Autoscaler)
		}
	}
	for _, wr := range res.Warnings {
		if strings.Contains(wr, "was not found") {
			t.Errorf("a refused call must not report every ASG as missing: %q", wr)
		}
	}
}

func TestScanNodegroupsDenied(t *testing.T) {
	w := newFakeWorld()
	w.eks.Fail("ListNodegroups", fake.APIError(403, "AccessDeniedException", "no"))
	res := scanFake(t, w, Options{AutoDiscovery: prodDiscovery})
	if got := groupNames(res); !slices.Equal(got, []string{"sm-gpu/self-managed", "sm-mixed/self-managed"}) {
		t.Errorf("groups = %v: MNG ASGs must not pass for self-managed groups", got)
	}
	for _, want := range []string{
		"access denied to eks:ListNodegroups; managed node groups were not read",
		`Auto Scaling group "eks-general" belongs to managed node group "general", which was not read; it is skipped`,
	} {
		if !slices.Contains(res.Warnings, want) {
			t.Errorf("warnings = %q\nwant %q", res.Warnings, want)
		}
	}
}

func TestScanOtherErrorsFail(t *testing.T) {
	w := newFakeWorld()
	w.eks.Fail("DescribeNodegroup", fake.APIError(500, "ServerException", "boom"))
	_, err := Scan(context.Background(), w.clients(), Options{Cluster: "prod"})
	if err == nil || !strings.HasPrefix(err.Error(), "describing nodegroup ") || awsapi.ErrorCode(err) != "ServerException" {
		t.Fatalf("err = %v, want a wrapped ServerException", err)
	}
}

func TestScanNodegroupDeletedMidScan(t *testing.T) {
	w := newFakeWorld()
	w.eks.FailNext("DescribeNodegroup", fake.APIError(404, "ResourceNotFoundException", "No node group found"))
	res, err := Scan(context.Background(), w.clients(), Options{Cluster: "prod", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Warnings, `nodegroup "custom-lt" disappeared during the scan`) {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

// countingEKS measures how many DescribeNodegroup calls run at once.
type countingEKS struct {
	*fake.EKS
	inFlight, peak atomic.Int32
}

func (c *countingEKS) DescribeNodegroup(ctx context.Context, in *eks.DescribeNodegroupInput, opt ...func(*eks.Options)) (*eks.DescribeNodegroupOutput, error) {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	return c.EKS.DescribeNodegroup(ctx, in, opt...)
}

func TestScanBoundedConcurrency(t *testing.T) {
	w := newFakeWorld()
	for i := range 20 {
		out, err := w.eks.DescribeNodegroup(context.Background(), &eks.DescribeNodegroupInput{ClusterName: aws.String("prod"), NodegroupName: aws.String("general")})
		if err != nil {
			t.Fatal(err)
		}
		ng := *out.Nodegroup
		ng.NodegroupName = aws.String(fmt.Sprintf("extra-%02d", i))
		w.eks.PutNodegroup(ng)
	}
	c := &countingEKS{EKS: w.eks}
	clients := w.clients()
	clients.EKS = c
	if _, err := Scan(context.Background(), clients, Options{Cluster: "prod", Concurrency: 3}); err != nil {
		t.Fatal(err)
	}
	if p := c.peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency = %d, want 2..3", p)
	}
}

func TestScanCancelled(t *testing.T) {
	w := newFakeWorld()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, w.clients(), Options{Cluster: "prod"}); err == nil {
		t.Fatal("a cancelled scan succeeded")
	}
}

func TestScanRejectsBadInput(t *testing.T) {
	w := newFakeWorld()
	if _, err := Scan(context.Background(), w.clients(), Options{}); err == nil {
		t.Error("no cluster name accepted")
	}
	if _, err := Scan(context.Background(), awsapi.Clients{EKS: w.eks}, Options{Cluster: "prod"}); err == nil {
		t.Error("missing clients accepted")
	}
}

func TestScanUsesFiltersNotIDs(t *testing.T) {
	// Unknown ids given by value fail the whole EC2 call; the scan must filter instead.
	w := newFakeWorld()
	scanFake(t, w, Options{AutoDiscovery: prodDiscovery})
	for _, in := range w.ec2.Inputs("DescribeSubnets") {
		if len(in.(*ec2.DescribeSubnetsInput).SubnetIds) > 0 {
			t.Errorf("DescribeSubnets by SubnetIds: %+v", in)
		}
	}
	for _, in := range w.ec2.Inputs("DescribeInstanceTypes") {
		if len(in.(*ec2.DescribeInstanceTypesInput).InstanceTypes) > 0 {
			t.Errorf("DescribeInstanceTypes by InstanceTypes: %+v", in)
		}
	}
}
