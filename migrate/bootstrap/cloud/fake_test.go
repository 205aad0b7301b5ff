package cloud_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// fakeIAM is a stateful IAM: roles, attachments, inline policies, instance profiles and
// OIDC providers, returning documents URL-encoded as IAM does. Calls records every call.
type fakeIAM struct {
	roles    map[string]*iamtypes.Role
	attached map[string][]string
	inline   map[[2]string]string
	profiles map[string]*iamtypes.InstanceProfile
	oidc     map[string]bool
	calls    []string
}

func newFakeIAM() *fakeIAM {
	return &fakeIAM{roles: map[string]*iamtypes.Role{}, attached: map[string][]string{}, inline: map[[2]string]string{},
		profiles: map[string]*iamtypes.InstanceProfile{}, oidc: map[string]bool{}}
}

func noSuchEntity(what string) error {
	return &iamtypes.NoSuchEntityException{Message: aws.String(what + " not found")}
}

func (f *fakeIAM) GetRole(_ context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	f.calls = append(f.calls, "GetRole")
	r, ok := f.roles[*in.RoleName]
	if !ok {
		return nil, noSuchEntity("role " + *in.RoleName)
	}
	c := *r
	c.AssumeRolePolicyDocument = aws.String(url.QueryEscape(*r.AssumeRolePolicyDocument))
	return &iam.GetRoleOutput{Role: &c}, nil
}

func (f *fakeIAM) CreateRole(_ context.Context, in *iam.CreateRoleInput, _ ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	f.calls = append(f.calls, "CreateRole")
	if _, ok := f.roles[*in.RoleName]; ok {
		return nil, &iamtypes.EntityAlreadyExistsException{Message: aws.String("exists")}
	}
	r := &iamtypes.Role{RoleName: in.RoleName, Arn: aws.String("arn:aws:iam::111122223333:role/" + *in.RoleName), AssumeRolePolicyDocument: in.AssumeRolePolicyDocument, Tags: in.Tags}
	f.roles[*in.RoleName] = r
	return &iam.CreateRoleOutput{Role: r}, nil
}

func (f *fakeIAM) ListAttachedRolePolicies(_ context.Context, in *iam.ListAttachedRolePoliciesInput, _ ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error) {
	f.calls = append(f.calls, "ListAttachedRolePolicies")
	out := &iam.ListAttachedRolePoliciesOutput{}
	for _, a := range f.attached[*in.RoleName] {
		out.AttachedPolicies = append(out.AttachedPolicies, iamtypes.AttachedPolicy{PolicyArn: aws.String(a)})
	}
	return out, nil
}

func (f *fakeIAM) AttachRolePolicy(_ context.Context, in *iam.AttachRolePolicyInput, _ ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error) {
	f.calls = append(f.calls, "AttachRolePolicy")
	f.attached[*in.RoleName] = append(f.attached[*in.RoleName], *in.PolicyArn)
	return &iam.AttachRolePolicyOutput{}, nil
}

func (f *fakeIAM) GetRolePolicy(_ context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	f.calls = append(f.calls, "GetRolePolicy")
	d, ok := f.inline[[2]string{*in.RoleName, *in.PolicyName}]
	if !ok {
		return nil, noSuchEntity("policy " + *in.PolicyName)
	}
	return &iam.GetRolePolicyOutput{PolicyDocument: aws.String(url.QueryEscape(d))}, nil
}

func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.calls = append(f.calls, "PutRolePolicy")
	f.inline[[2]string{*in.RoleName, *in.PolicyName}] = *in.PolicyDocument
	return &iam.PutRolePolicyOutput{}, nil
}

func (f *fakeIAM) GetInstanceProfile(_ context.Context, in *iam.GetInstanceProfileInput, _ ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error) {
	f.calls = append(f.calls, "GetInstanceProfile")
	p, ok := f.profiles[*in.InstanceProfileName]
	if !ok {
		return nil, noSuchEntity("instance profile " + *in.InstanceProfileName)
	}
	return &iam.GetInstanceProfileOutput{InstanceProfile: p}, nil
}

func (f *fakeIAM) CreateInstanceProfile(_ context.Context, in *iam.CreateInstanceProfileInput, _ ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error) {
	f.calls = append(f.calls, "CreateInstanceProfile")
	p := &iamtypes.InstanceProfile{InstanceProfileName: in.InstanceProfileName, Tags: in.Tags}
	f.profiles[*in.InstanceProfileName] = p
	return &iam.CreateInstanceProfileOutput{InstanceProfile: p}, nil
}

func (f *fakeIAM) AddRoleToInstanceProfile(_ context.Context, in *iam.AddRoleToInstanceProfileInput, _ ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error) {
	f.calls = append(f.calls, "AddRoleToInstanceProfile")
	p := f.profiles[*in.InstanceProfileName]
	p.Roles = append(p.Roles, iamtypes.Role{RoleName: in.RoleName})
	return &iam.AddRoleToInstanceProfileOutput{}, nil
}

func (f *fakeIAM) GetOpenIDConnectProvider(_ context.Context, in *iam.GetOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error) {
	f.calls = append(f.calls, "GetOpenIDConnectProvider")
	if !f.oidc[*in.OpenIDConnectProviderArn] {
		return nil, noSuchEntity("OIDC provider")
	}
	return &iam.GetOpenIDConnectProviderOutput{}, nil
}

// fakeEKS is a stateful EKS with access entries and pod identity associations.
type fakeEKS struct {
	entries map[string]*ekstypes.AccessEntry
	assocs  map[string]*ekstypes.PodIdentityAssociation
	calls   []string
}

func newFakeEKS() *fakeEKS {
	return &fakeEKS{entries: map[string]*ekstypes.AccessEntry{}, assocs: map[string]*ekstypes.PodIdentityAssociation{}}
}

func eksNotFound(what string) error {
	return &ekstypes.ResourceNotFoundException{Message: aws.String(what + " not found")}
}

func (f *fakeEKS) DescribeAccessEntry(_ context.Context, in *eks.DescribeAccessEntryInput, _ ...func(*eks.Options)) (*eks.DescribeAccessEntryOutput, error) {
	f.calls = append(f.calls, "DescribeAccessEntry")
	e, ok := f.entries[*in.PrincipalArn]
	if !ok {
		return nil, eksNotFound("access entry")
	}
	return &eks.DescribeAccessEntryOutput{AccessEntry: e}, nil
}

func (f *fakeEKS) CreateAccessEntry(_ context.Context, in *eks.CreateAccessEntryInput, _ ...func(*eks.Options)) (*eks.CreateAccessEntryOutput, error) {
	f.calls = append(f.calls, "CreateAccessEntry")
	if _, ok := f.entries[*in.PrincipalArn]; ok {
		return nil, &ekstypes.ResourceInUseException{Message: aws.String("exists")}
	}
	e := &ekstypes.AccessEntry{PrincipalArn: in.PrincipalArn, Type: in.Type, Tags: in.Tags, ClusterName: in.ClusterName}
	f.entries[*in.PrincipalArn] = e
	return &eks.CreateAccessEntryOutput{AccessEntry: e}, nil
}

func (f *fakeEKS) ListPodIdentityAssociations(_ context.Context, in *eks.ListPodIdentityAssociationsInput, _ ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error) {
	f.calls = append(f.calls, "ListPodIdentityAssociations")
	out := &eks.ListPodIdentityAssociationsOutput{}
	if a, ok := f.assocs[*in.Namespace+"/"+*in.ServiceAccount]; ok {
		out.Associations = append(out.Associations, ekstypes.PodIdentityAssociationSummary{AssociationId: a.AssociationId})
	}
	return out, nil
}

func (f *fakeEKS) DescribePodIdentityAssociation(_ context.Context, in *eks.DescribePodIdentityAssociationInput, _ ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error) {
	f.calls = append(f.calls, "DescribePodIdentityAssociation")
	for _, a := range f.assocs {
		if *a.AssociationId == *in.AssociationId {
			return &eks.DescribePodIdentityAssociationOutput{Association: a}, nil
		}
	}
	return nil, eksNotFound("association")
}

func (f *fakeEKS) CreatePodIdentityAssociation(_ context.Context, in *eks.CreatePodIdentityAssociationInput, _ ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error) {
	f.calls = append(f.calls, "CreatePodIdentityAssociation")
	a := &ekstypes.PodIdentityAssociation{AssociationId: aws.String(fmt.Sprintf("a-%d", len(f.assocs)+1)), Namespace: in.Namespace,
		ServiceAccount: in.ServiceAccount, RoleArn: in.RoleArn, Tags: in.Tags}
	f.assocs[*in.Namespace+"/"+*in.ServiceAccount] = a
	return &eks.CreatePodIdentityAssociationOutput{Association: a}, nil
}

// mutations lists the recorded calls that change something.
func mutations(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "Get") && !strings.HasPrefix(c, "List") && !strings.HasPrefix(c, "Describe") {
			out = append(out, c)
		}
	}
	return out
}
