package cloud

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// discoveryTags adds the discovery tags the spec lists where the key is absent. A key
// present with another value is never overwritten: that is a refusal, since the
// EC2NodeClass would then not select the resource.
func (r *run) discoveryTags(ctx context.Context) {
	if len(r.s.DiscoveryTags) == 0 {
		return
	}
	var ids, keys []string
	for _, d := range r.s.DiscoveryTags {
		ids = append(ids, d.ResourceID)
		for _, t := range d.Tags {
			keys = append(keys, t.Key)
		}
	}
	slices.Sort(keys)
	have := map[[2]string]string{}
	p := ec2.NewDescribeTagsPaginator(r.c.EC2, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("resource-id"), Values: ids},
		{Name: aws.String("key"), Values: slices.Compact(keys)},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			r.fail("ec2-tags", "reading the subnets' and security groups' tags", err)
			return
		}
		for _, t := range page.Tags {
			have[[2]string{str(t.ResourceId), str(t.Key)}] = str(t.Value)
		}
	}
	// Resources needing the same tag set are tagged in one call.
	batches := map[string][]string{}
	var order []string
	for _, d := range r.s.DiscoveryTags {
		res := d.Kind + "/" + d.ResourceID
		var add []string
		for _, t := range d.Tags {
			switch v, ok := have[[2]string{d.ResourceID, t.Key}]; {
			case !ok:
				add = append(add, t.Key+"\x01"+t.Value)
			case v != t.Value:
				r.refuse(res, "tag "+t.Key+" is already "+v+", not "+t.Value+", so EC2NodeClasses "+strings.Join(d.EC2NodeClasses, ", ")+" will not select it")
			}
		}
		if len(add) == 0 {
			r.exists(res, "carries its discovery tags")
			continue
		}
		k := strings.Join(add, "\x00")
		if batches[k] == nil {
			order = append(order, k)
		}
		batches[k] = append(batches[k], d.ResourceID)
	}
	for _, k := range order {
		var tags []ec2types.Tag
		for _, kv := range strings.Split(k, "\x00") {
			key, val, _ := strings.Cut(kv, "\x01")
			tags = append(tags, ec2types.Tag{Key: aws.String(key), Value: aws.String(val)})
		}
		res := "ec2-tags/" + strings.Join(batches[k], ",")
		r.missing(res, "discovery tags "+strings.ReplaceAll(strings.ReplaceAll(k, "\x01", "="), "\x00", ", "), func() error {
			_, err := r.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: batches[k], Tags: tags})
			return err
		})
	}
}
