package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/karpshift/karpshift/migrate/bootstrap"
)

// queue creates the interruption queue (attributes, policy and tags in one call) and
// its rules; an existing queue is compared, never changed.
func (r *run) queue(ctx context.Context, q *bootstrap.Queue) {
	res := "sqs-queue/" + q.Name
	want := map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): strconv.Itoa(q.MessageRetentionSeconds),
		string(sqstypes.QueueAttributeNameSqsManagedSseEnabled):   strconv.FormatBool(q.SSE),
		string(sqstypes.QueueAttributeNamePolicy):                 q.Policy.JSON(),
	}
	ok := true
	u, err := r.c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.Name)})
	switch {
	case notFound(err):
		ok = r.missing(res, "queue "+q.Name, func() error {
			_, err := r.c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name), Attributes: want, Tags: r.s.TagMap()})
			return err
		})
	case err != nil:
		r.fail(res, "looking up queue "+q.Name, err)
		ok = false
	default:
		ok = r.checkQueue(ctx, res, str(u.QueueUrl), want, q)
	}
	for _, rule := range q.Rules {
		r.rule(ctx, rule, q, ok)
	}
}

func (r *run) checkQueue(ctx context.Context, res, url string, want map[string]string, q *bootstrap.Queue) bool {
	tags, err := r.c.SQS.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil {
		r.fail(res, "reading the queue's tags", err)
		return false
	}
	if why := r.notOwned(tags.Tags); why != "" {
		r.refuse(res, why)
		return false
	}
	var names []sqstypes.QueueAttributeName
	for k := range want {
		names = append(names, sqstypes.QueueAttributeName(k))
	}
	attrs, err := r.c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: names})
	if err != nil {
		r.fail(res, "reading the queue's attributes", err)
		return true
	}
	var diff []string
	for _, k := range []string{string(sqstypes.QueueAttributeNameMessageRetentionPeriod), string(sqstypes.QueueAttributeNameSqsManagedSseEnabled)} {
		if attrs.Attributes[k] != want[k] {
			diff = append(diff, fmt.Sprintf("%s is %q, not %q", k, attrs.Attributes[k], want[k]))
		}
	}
	pol := attrs.Attributes[string(sqstypes.QueueAttributeNamePolicy)]
	if !samePolicy(&pol, q.Policy) {
		diff = append(diff, "the queue policy differs")
	}
	if len(diff) > 0 {
		r.drift(res, strings.Join(diff, "; "))
	} else {
		r.exists(res, "queue "+q.Name+" is as specified")
	}
	return true
}

func eventPattern(p bootstrap.EventPattern) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // two lists of strings
	}
	return string(b)
}

// rule creates an EventBridge rule and its queue target; an existing rule is compared
// and only its missing target is added.
func (r *run) rule(ctx context.Context, rule bootstrap.Rule, q *bootstrap.Queue, queueOK bool) {
	res := "events-rule/" + rule.Name
	pattern := eventPattern(rule.Pattern)
	out, err := r.c.EventBridge.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(rule.Name)})
	switch {
	case notFound(err):
		if !r.missing(res, "rule "+rule.Name, func() error {
			var tags []ebtypes.Tag
			for _, t := range r.s.Tags {
				tags = append(tags, ebtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
			}
			_, err := r.c.EventBridge.PutRule(ctx, &eventbridge.PutRuleInput{
				Name: aws.String(rule.Name), Description: aws.String(rule.Description), EventPattern: aws.String(pattern),
				State: ebtypes.RuleStateEnabled, Tags: tags})
			return err
		}) {
			return
		}
	case err != nil:
		r.fail(res, "reading rule "+rule.Name, err)
		return
	default:
		arn := str(out.Arn)
		if arn == "" {
			arn = rule.ARN
		}
		tags, err := r.c.EventBridge.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
		if err != nil {
			r.fail(res, "reading the rule's tags", err)
			return
		}
		m := map[string]string{}
		for _, t := range tags.Tags {
			m[str(t.Key)] = str(t.Value)
		}
		if why := r.notOwned(m); why != "" {
			r.refuse(res, why)
			return
		}
		switch {
		case !bootstrap.SamePolicy(str(out.EventPattern), pattern):
			r.drift(res, "the event pattern differs from the spec")
		case out.State != ebtypes.RuleStateEnabled:
			r.drift(res, "the rule is "+string(out.State))
		default:
			r.exists(res, "rule "+rule.Name+" is as specified")
		}
	}
	if !queueOK {
		r.event(res, ActionSkip, "the queue is not usable, so the rule gets no target")
		return
	}
	targets, err := r.c.EventBridge.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(rule.Name)})
	if err != nil && !notFound(err) {
		r.fail(res, "listing the rule's targets", err)
		return
	}
	if targets != nil {
		for _, t := range targets.Targets {
			if str(t.Id) != rule.TargetID {
				continue
			}
			if str(t.Arn) != q.ARN {
				r.drift(res, "target "+rule.TargetID+" points at "+str(t.Arn)+", not the queue")
			}
			return
		}
	}
	r.complete(res, "target "+rule.TargetID+" (the queue)", func() error {
		out, err := r.c.EventBridge.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule.Name),
			Targets: []ebtypes.Target{{Id: aws.String(rule.TargetID), Arn: aws.String(q.ARN)}}})
		if err == nil && out.FailedEntryCount > 0 && len(out.FailedEntries) > 0 {
			err = fmt.Errorf("%s: %s", str(out.FailedEntries[0].ErrorCode), str(out.FailedEntries[0].ErrorMessage))
		}
		return err
	})
}
