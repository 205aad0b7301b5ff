package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/migrate/bootstrap"
)

// Action says what Apply did with one resource.
type Action string

const (
	// ActionCreate: the resource did not exist and was created.
	ActionCreate Action = "create"
	// ActionComplete: a missing part of karpshift's own resource was added (a policy
	// attachment, an inline policy, a rule target, the role of an instance profile).
	ActionComplete Action = "complete"
	// ActionExists: present and as the spec says; nothing done.
	ActionExists Action = "exists"
	// ActionDrift: karpshift's resource differs from the spec; left as it is.
	ActionDrift Action = "drift"
	// ActionRefuse: a resource of that name exists and is not karpshift's; left alone.
	ActionRefuse Action = "refuse"
	// ActionSkip: not done — the endpoint lacks the API, there is no Kubernetes client,
	// or what it depends on was refused or failed. The message says what to do.
	ActionSkip Action = "skip"
	// ActionFail: an API call failed.
	ActionFail Action = "fail"
)

// Event is one thing Apply did or found.
type Event struct {
	// Resource is kind/name, e.g. iam-role/KarpenterNodeRole-prod.
	Resource string
	Action   Action
	Message  string
}

// Sink receives Apply's events as they happen. It may be nil.
type Sink func(Event)

// Severity ranks Verify's problems.
type Severity string

const (
	// SeverityBlock: Karpenter cannot work as planned until this is fixed.
	SeverityBlock Severity = "block"
	// SeverityWarn: worth a look; not in itself a reason to stop.
	SeverityWarn Severity = "warn"
)

// Problem is something Verify found wrong, with the fix.
type Problem struct {
	Resource string
	Severity Severity
	Message  string
	Fix      string
}

// Errors Apply returns (wrapped, joined): a resource that is not karpshift's, and an
// endpoint without the API (awsapi.ErrNotImplemented, e.g. moto's EKS access entries).
var (
	ErrNotOwned = errors.New("exists but was not created by karpshift")
	// ErrPrecondition: something bootstrap relies on but does not create is missing
	// (a reused role, the OIDC provider, the aws-auth ConfigMap).
	ErrPrecondition = errors.New("missing prerequisite")
)

const fixApply = "karpshift bootstrap --approve"

// Apply creates what the spec describes and is missing, in dependency order, and
// reports every step to sink. It is idempotent: run again, it finds everything and makes
// no change. It never modifies a resource it did not create (ErrNotOwned), reports
// drift on its own resources without changing them, and carries on past a failed
// resource with the ones that do not depend on it; the returned error joins every
// refusal and failure.
func Apply(ctx context.Context, c Clients, s *bootstrap.Spec, sink Sink) error {
	r := &run{c: c, s: s, apply: true, sink: sink}
	r.all(ctx)
	return errors.Join(r.errs...)
}

// Verify checks, read-only, that everything the spec describes exists as specified and
// belongs to karpshift; the cutover preflight calls it. An empty result means the
// bootstrap is complete.
func Verify(ctx context.Context, c Clients, s *bootstrap.Spec) []Problem {
	r := &run{c: c, s: s}
	r.all(ctx)
	return r.probs
}

// run carries one Apply or Verify pass.
type run struct {
	c     Clients
	s     *bootstrap.Spec
	apply bool
	sink  Sink
	probs []Problem
	errs  []error
}

func (r *run) all(ctx context.Context) {
	ok := map[string]bool{} // node roles that exist and may be used
	for _, nr := range r.s.NodeRoles {
		ok[nr.Name] = r.nodeRole(ctx, nr)
	}
	for _, ip := range r.s.InstanceProfiles {
		r.instanceProfile(ctx, ip, ok[ip.Role])
	}
	if r.s.Queue != nil {
		r.queue(ctx, r.s.Queue)
	}
	r.controller(ctx)
	for _, a := range r.s.NodeAccess {
		r.nodeAccess(ctx, a, ok[a.Role])
	}
	r.discoveryTags(ctx)
}

func (r *run) event(res string, a Action, format string, args ...any) {
	if r.apply && r.sink != nil {
		r.sink(Event{Resource: res, Action: a, Message: fmt.Sprintf(format, args...)})
	}
}

// problem records a Verify finding.
func (r *run) problem(res string, sev Severity, msg, fix string) {
	r.probs = append(r.probs, Problem{Resource: res, Severity: sev, Message: msg, Fix: fix})
}

// exists reports a resource that is present and as specified.
func (r *run) exists(res, msg string) { r.event(res, ActionExists, "%s", msg) }

// drift reports karpshift's resource differing from the spec.
func (r *run) drift(res, msg string) {
	r.event(res, ActionDrift, "%s; left as it is", msg)
	if !r.apply {
		r.problem(res, SeverityWarn, msg, "compare with the bootstrap output and fix it by hand, or delete the resource and re-run "+fixApply)
	}
}

// refuse reports a same-named resource that is not karpshift's.
func (r *run) refuse(res, why string) {
	msg := "exists but was not created by karpshift (" + why + "); karpshift leaves it alone"
	r.event(res, ActionRefuse, "%s", msg)
	r.errs = append(r.errs, fmt.Errorf("%s: %w (%s)", res, ErrNotOwned, why))
	if !r.apply {
		r.problem(res, SeverityBlock, msg, "rename karpshift's resource (bootstrap options) or remove the other one")
	}
}

// fail reports a failed API call (err) while doing what (a verb-ing phrase).
func (r *run) fail(res, doing string, err error) {
	if errors.Is(awsapi.Classify(err), awsapi.ErrNotImplemented) {
		r.unsupported(res, doing, err, "")
		return
	}
	r.event(res, ActionFail, "%s: %s", doing, awsapi.ErrorMessage(err))
	r.errs = append(r.errs, fmt.Errorf("%s: %s: %w", res, doing, err))
	if !r.apply {
		r.problem(res, SeverityBlock, "could not check it: "+doing+": "+awsapi.ErrorMessage(err), "check the credentials' permissions and re-run")
	}
}

// unsupported reports an endpoint that lacks an API (moto answers unimplemented EKS
// routes with an HTML 404), with the command that does the step by hand.
func (r *run) unsupported(res, doing string, err error, manual string) {
	msg := fmt.Sprintf("%s: the AWS endpoint does not implement this API (HTTP %d)", doing, awsapi.HTTPStatus(err))
	if manual != "" {
		msg += "; do it by hand: " + manual
	}
	r.event(res, ActionSkip, "%s", msg)
	r.errs = append(r.errs, fmt.Errorf("%s: %s: %w", res, msg, awsapi.ErrNotImplemented))
	if !r.apply {
		r.problem(res, SeverityWarn, "could not be verified: "+msg, manual)
	}
}

// prerequisite reports something bootstrap needs but does not create.
func (r *run) prerequisite(res, msg, fix string) {
	r.event(res, ActionFail, "%s; fix: %s", msg, fix)
	r.errs = append(r.errs, fmt.Errorf("%s: %w: %s", res, ErrPrecondition, msg))
	if !r.apply {
		r.problem(res, SeverityBlock, msg, fix)
	}
}

// missing handles a resource that does not exist: Verify records a problem, Apply calls
// create and reports the outcome. It returns whether the resource exists afterwards.
func (r *run) missing(res, what string, create func() error) bool {
	if !r.apply {
		r.problem(res, SeverityBlock, what+" is missing", fixApply)
		return false
	}
	if err := create(); err != nil {
		r.fail(res, "creating "+what, err)
		return false
	}
	r.event(res, ActionCreate, "created %s", what)
	return true
}

// complete adds a missing part of karpshift's resource (Apply) or reports it (Verify).
func (r *run) complete(res, what string, add func() error) {
	if !r.apply {
		r.problem(res, SeverityBlock, what+" is missing", fixApply)
		return
	}
	if err := add(); err != nil {
		r.fail(res, "adding "+what, err)
		return
	}
	r.event(res, ActionComplete, "added %s", what)
}

// notOwned returns why tags do not mark the resource as karpshift's for this cluster,
// or "" when they do.
func (r *run) notOwned(tags map[string]string) string {
	switch v, ok := tags[bootstrap.TagManagedBy]; {
	case !ok:
		return "no " + bootstrap.TagManagedBy + " tag"
	case v != bootstrap.ManagedByValue:
		return bootstrap.TagManagedBy + "=" + v
	}
	if c := tags[bootstrap.TagCluster]; c != r.s.Cluster.Name {
		return "karpshift's, but for cluster " + c
	}
	return ""
}

// notFound reports whether err says the named object does not exist.
func notFound(err error) bool {
	if err == nil {
		return false
	}
	switch awsapi.ErrorCode(err) {
	case "NoSuchEntity", "NoSuchEntityException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "ResourceNotFoundException":
		return true
	}
	return errors.Is(awsapi.Classify(err), awsapi.ErrNotFound)
}

// samePolicy compares a policy document as AWS returned it (IAM URL-encodes documents;
// other services and moto may not) with the spec's.
func samePolicy(got *string, want *bootstrap.PolicyDocument) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	w := want.JSON()
	if bootstrap.SamePolicy(*got, w) {
		return true
	}
	dec, err := url.QueryUnescape(*got)
	return err == nil && bootstrap.SamePolicy(dec, w)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
