package cutover

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/client-go/rest"
)

// DryRunConfig returns a copy of cfg whose every mutating request (POST, PUT, PATCH,
// DELETE) carries dryRun=All: the API server validates and admits it, runs it through
// the PDB check for evictions, and persists nothing. Clients built from it make every
// step's Kubernetes writes server-side dry-runs without any "if dryRun" in the steps.
func DryRunConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return DryRunRoundTripper(rt) })
	return c
}

// DryRunRoundTripper wraps rt so that every mutating request carries dryRun=All.
func DryRunRoundTripper(rt http.RoundTripper) http.RoundTripper {
	return dryRunTransport{next: rt}
}

type dryRunTransport struct{ next http.RoundTripper }

func (t dryRunTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		// RoundTrippers must not modify the caller's request.
		r := req.Clone(req.Context())
		q := r.URL.Query()
		q.Set("dryRun", "All")
		r.URL.RawQuery = q.Encode()
		return t.next.RoundTrip(r)
	}
	return t.next.RoundTrip(req)
}

// dryRunEKS passes reads through and reports writes as "would ..." without making them.
type dryRunEKS struct {
	EKSAPI
	env *Env
}

func (d dryRunEKS) UpdateNodegroupConfig(_ context.Context, in *eks.UpdateNodegroupConfigInput, _ ...func(*eks.Options)) (*eks.UpdateNodegroupConfigOutput, error) {
	msg := fmt.Sprintf("would update node group %s", aws.ToString(in.NodegroupName))
	if s := in.ScalingConfig; s != nil {
		msg += fmt.Sprintf(" to min %d, max %d, desired %d", aws.ToInt32(s.MinSize), aws.ToInt32(s.MaxSize), aws.ToInt32(s.DesiredSize))
	}
	d.env.emit(Event{Type: Would, Group: aws.ToString(in.NodegroupName), Message: msg})
	return &eks.UpdateNodegroupConfigOutput{}, nil
}

// dryRunAutoScaling passes reads through and reports writes without making them.
type dryRunAutoScaling struct {
	AutoScalingAPI
	env *Env
}

func (d dryRunAutoScaling) UpdateAutoScalingGroup(_ context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	msg := fmt.Sprintf("would update Auto Scaling group %s", aws.ToString(in.AutoScalingGroupName))
	if in.MinSize != nil {
		msg += fmt.Sprintf(" min %d", *in.MinSize)
	}
	if in.MaxSize != nil {
		msg += fmt.Sprintf(" max %d", *in.MaxSize)
	}
	if in.DesiredCapacity != nil {
		msg += fmt.Sprintf(" desired %d", *in.DesiredCapacity)
	}
	d.env.emit(Event{Type: Would, Group: aws.ToString(in.AutoScalingGroupName), Message: msg})
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}
