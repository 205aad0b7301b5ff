package cloud

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/karpshift/karpshift/migrate/bootstrap"
)

func (r *run) iamTags() []iamtypes.Tag {
	out := make([]iamtypes.Tag, len(r.s.Tags))
	for i, t := range r.s.Tags {
		out[i] = iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

func iamTagMap(tags []iamtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[str(t.Key)] = str(t.Value)
	}
	return m
}

// role makes sure a role karpshift creates exists and is karpshift's, comparing its
// trust policy. It returns whether the role exists and may be completed.
func (r *run) role(ctx context.Context, name, description string, trust *bootstrap.PolicyDocument) bool {
	res := "iam-role/" + name
	out, err := r.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	switch {
	case notFound(err):
		return r.missing(res, "role "+name, func() error {
			_, err := r.c.IAM.CreateRole(ctx, &iam.CreateRoleInput{
				RoleName:                 aws.String(name),
				Path:                     aws.String("/"),
				Description:              aws.String(description), // empty is allowed
				AssumeRolePolicyDocument: aws.String(trust.JSON()),
				Tags:                     r.iamTags(),
			})
			return err
		})
	case err != nil:
		r.fail(res, "reading role "+name, err)
		return false
	}
	if why := r.notOwned(iamTagMap(out.Role.Tags)); why != "" {
		r.refuse(res, why)
		return false
	}
	if !samePolicy(out.Role.AssumeRolePolicyDocument, trust) {
		r.drift(res, "the trust policy differs from the spec")
	} else {
		r.exists(res, "role "+name+" exists")
	}
	return true
}

// nodeRole creates a dedicated node role with its managed policies, or checks that a
// reused one exists. It returns whether the role can be used by what depends on it.
func (r *run) nodeRole(ctx context.Context, nr bootstrap.NodeRole) bool {
	res := "iam-role/" + nr.Name
	if !nr.Create {
		_, err := r.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(nr.Name)})
		switch {
		case notFound(err):
			r.prerequisite(res, "the reused node role "+nr.Name+" does not exist", "create it, or re-plan with a node role karpshift creates")
			return false
		case err != nil:
			r.fail(res, "reading role "+nr.Name, err)
			return false
		}
		r.exists(res, "reused as it is (karpshift does not manage it)")
		return true
	}
	if !r.role(ctx, nr.Name, nr.Description, nr.TrustPolicy) {
		return false
	}
	attached := map[string]bool{}
	p := iam.NewListAttachedRolePoliciesPaginator(r.c.IAM, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(nr.Name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			r.fail(res, "listing the role's policies", err)
			return true
		}
		for _, a := range page.AttachedPolicies {
			attached[str(a.PolicyArn)] = true
		}
	}
	for _, arn := range nr.ManagedPolicyARNs {
		if attached[arn] {
			continue
		}
		r.complete(res, "managed policy "+arn[strings.LastIndex(arn, "/")+1:], func() error {
			_, err := r.c.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(nr.Name), PolicyArn: aws.String(arn)})
			return err
		})
	}
	var extra []string
	for arn := range attached {
		if !slices.Contains(nr.ManagedPolicyARNs, arn) {
			extra = append(extra, arn)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		r.drift(res, "it also has "+strings.Join(extra, ", ")+" attached")
	}
	return true
}

// instanceProfile creates an instance profile holding its role, or checks a reused one.
func (r *run) instanceProfile(ctx context.Context, ip bootstrap.InstanceProfile, roleOK bool) {
	res := "iam-instance-profile/" + ip.Name
	out, err := r.c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(ip.Name)})
	switch {
	case notFound(err) && !ip.Create:
		r.prerequisite(res, "the reused instance profile "+ip.Name+" does not exist", "create it, or re-plan")
		return
	case notFound(err):
		if !r.missing(res, "instance profile "+ip.Name, func() error {
			_, err := r.c.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
				InstanceProfileName: aws.String(ip.Name), Path: aws.String("/"), Tags: r.iamTags()})
			return err
		}) {
			return
		}
		out = &iam.GetInstanceProfileOutput{InstanceProfile: &iamtypes.InstanceProfile{}}
	case err != nil:
		r.fail(res, "reading instance profile "+ip.Name, err)
		return
	case !ip.Create:
		if !slices.ContainsFunc(out.InstanceProfile.Roles, func(x iamtypes.Role) bool { return str(x.RoleName) == ip.Role }) {
			r.drift(res, "the reused instance profile does not hold role "+ip.Role)
		} else {
			r.exists(res, "reused as it is")
		}
		return
	default:
		if why := r.notOwned(iamTagMap(out.InstanceProfile.Tags)); why != "" {
			r.refuse(res, why)
			return
		}
	}
	var roles []string
	for _, x := range out.InstanceProfile.Roles {
		roles = append(roles, str(x.RoleName))
	}
	switch {
	case len(roles) == 0 && !roleOK:
		r.event(res, ActionSkip, "role %s is not usable, so it is not added to the profile", ip.Role)
	case len(roles) == 0:
		r.complete(res, "role "+ip.Role, func() error {
			_, err := r.c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
				InstanceProfileName: aws.String(ip.Name), RoleName: aws.String(ip.Role)})
			return err
		})
	case !slices.Equal(roles, []string{ip.Role}):
		r.drift(res, "it holds role "+strings.Join(roles, ", ")+", not "+ip.Role)
	default:
		r.exists(res, "instance profile "+ip.Name+" holds role "+ip.Role)
	}
}

// controller creates the controller role and its inline policy, checks the OIDC
// provider (IRSA) or creates the pod identity association.
func (r *run) controller(ctx context.Context) {
	c := r.s.Controller
	res := "iam-role/" + c.RoleName
	if c.Identity == bootstrap.IdentityIRSA {
		ores := "iam-oidc-provider/" + c.OIDCProviderARN[strings.Index(c.OIDCProviderARN, "/")+1:]
		_, err := r.c.IAM.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(c.OIDCProviderARN)})
		switch {
		case notFound(err):
			r.prerequisite(ores, "the cluster's IAM OIDC provider does not exist, so IRSA cannot work",
				"eksctl utils associate-iam-oidc-provider --cluster "+r.s.Cluster.Name+" --region "+r.s.Region+" --approve")
		case err != nil:
			r.fail(ores, "reading the OIDC provider", err)
		default:
			r.exists(ores, "the cluster's OIDC provider exists")
		}
	}
	if !r.role(ctx, c.RoleName, c.Description, c.TrustPolicy) {
		return
	}
	pres := res + "/policy/" + c.PolicyName
	out, err := r.c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(c.RoleName), PolicyName: aws.String(c.PolicyName)})
	switch {
	case notFound(err):
		r.complete(pres, "inline policy "+c.PolicyName, func() error {
			_, err := r.c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
				RoleName: aws.String(c.RoleName), PolicyName: aws.String(c.PolicyName), PolicyDocument: aws.String(c.Policy.JSON())})
			return err
		})
	case err != nil:
		r.fail(pres, "reading the inline policy", err)
	case !samePolicy(out.PolicyDocument, c.Policy):
		r.drift(pres, "the controller policy differs from the spec")
	default:
		r.exists(pres, "the controller policy is as specified")
	}
	if c.Identity == bootstrap.IdentityPodIdentity {
		r.podIdentity(ctx)
	}
}
