package cloud

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/migrate/bootstrap"
)

// nodeAccess gives a node role access to the cluster: an EKS access entry, or an
// aws-auth mapRoles entry.
func (r *run) nodeAccess(ctx context.Context, a bootstrap.NodeAccess, roleOK bool) {
	switch a.Method {
	case bootstrap.AccessEntry:
		r.accessEntry(ctx, a, roleOK)
	case bootstrap.AccessAWSAuth:
		r.awsAuth(ctx, a, roleOK)
	}
}

func (r *run) accessEntry(ctx context.Context, a bootstrap.NodeAccess, roleOK bool) {
	res := "eks-access-entry/" + a.Role
	manual := fmt.Sprintf("aws eks create-access-entry --region %s --cluster-name %s --principal-arn %s --type %s",
		r.s.Region, r.s.Cluster.Name, a.RoleARN, a.Type)
	out, err := r.c.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(r.s.Cluster.Name), PrincipalArn: aws.String(a.RoleARN)})
	switch {
	case errors.Is(awsapi.Classify(err), awsapi.ErrNotImplemented):
		r.unsupported(res, "reading the access entry", err, manual)
	case notFound(err) && !roleOK && r.apply:
		r.event(res, ActionSkip, "role %s is not usable, so no access entry is created; then: %s", a.Role, manual)
	case notFound(err):
		r.missing(res, a.Type+" access entry for "+a.Role, func() error {
			_, err := r.c.EKS.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{
				ClusterName: aws.String(r.s.Cluster.Name), PrincipalArn: aws.String(a.RoleARN), Type: aws.String(a.Type), Tags: r.s.TagMap()})
			return err
		})
	case err != nil:
		r.fail(res, "reading the access entry", err)
	case str(out.AccessEntry.Type) != a.Type:
		r.drift(res, fmt.Sprintf("the access entry's type is %s, not %s", str(out.AccessEntry.Type), a.Type))
	case r.notOwned(out.AccessEntry.Tags) != "":
		// EKS creates an entry for every managed node group's role; it is what the nodes
		// need, so it is kept — but it is EKS's, and may go with the node group.
		r.exists(res, "an access entry karpshift did not create exists for "+a.Role+" (EKS adds one for managed node group roles); kept as it is")
		if !r.apply {
			r.problem(res, SeverityWarn, "the access entry for "+a.Role+" was not created by karpshift and may be removed with the managed node group that uses the role",
				"give the EC2NodeClasses a dedicated node role, or re-check node access before deleting that node group")
		}
	default:
		r.exists(res, a.Type+" access entry for "+a.Role+" exists")
	}
}

// awsAuthEntry is one mapRoles entry of the aws-auth ConfigMap.
type awsAuthEntry struct {
	RoleARN  string   `json:"rolearn"`
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// awsAuth appends the node role's mapRoles entry to aws-auth unless the role is already
// mapped; it never changes or reorders the existing entries' meaning.
func (r *run) awsAuth(ctx context.Context, a bootstrap.NodeAccess, roleOK bool) {
	res := "aws-auth/" + a.Role
	var groups []string
	for _, g := range a.Groups {
		groups = append(groups, "--group "+g)
	}
	manual := fmt.Sprintf("eksctl create iamidentitymapping --region %s --cluster %s --arn %s --username '%s' %s",
		r.s.Region, r.s.Cluster.Name, a.RoleARN, a.Username, strings.Join(groups, " "))
	if r.c.AWSAuth == nil {
		r.event(res, ActionSkip, "no Kubernetes client, so aws-auth is not edited; make sure the role is mapped: %s", manual)
		if !r.apply {
			r.problem(res, SeverityWarn, "aws-auth could not be checked without a Kubernetes client", manual)
		}
		return
	}
	cm, err := r.c.AWSAuth.Get(ctx, "aws-auth", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		r.prerequisite(res, "the aws-auth ConfigMap does not exist in kube-system", "check the cluster's authentication mode; then: "+manual)
		return
	case err != nil:
		r.fail(res, "reading the aws-auth ConfigMap", err)
		return
	}
	var entries []awsAuthEntry
	if err := yaml.Unmarshal([]byte(cm.Data["mapRoles"]), &entries); err != nil {
		r.fail(res, "parsing aws-auth mapRoles", err)
		return
	}
	for _, e := range entries {
		if roleName(e.RoleARN) != a.Role {
			continue
		}
		if strings.Join(e.Groups, ",") != strings.Join(a.Groups, ",") && !subset(a.Groups, e.Groups) {
			r.drift(res, "aws-auth maps "+a.Role+" to groups "+strings.Join(e.Groups, ", ")+", not "+strings.Join(a.Groups, ", "))
			return
		}
		r.exists(res, "aws-auth maps "+a.Role)
		return
	}
	if r.apply && !roleOK {
		r.event(res, ActionSkip, "role %s is not usable, so it is not mapped", a.Role)
		return
	}
	r.missing(res, "aws-auth mapping for "+a.Role, func() error {
		add, err := yaml.Marshal([]awsAuthEntry{{RoleARN: a.RoleARN, Username: a.Username, Groups: a.Groups}})
		if err != nil {
			return err
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cur := strings.TrimRight(cm.Data["mapRoles"], "\n")
		if strings.TrimSpace(cur) == "" || strings.TrimSpace(cur) == "[]" {
			cur = ""
		} else {
			cur += "\n"
		}
		cm.Data["mapRoles"] = cur + string(add)
		_, err = r.c.AWSAuth.Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

func roleName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

func subset(small, big []string) bool {
	for _, s := range small {
		found := false
		for _, b := range big {
			found = found || b == s
		}
		if !found {
			return false
		}
	}
	return true
}

// podIdentity associates the controller's service account with its role.
func (r *run) podIdentity(ctx context.Context) {
	c := r.s.Controller
	res := "eks-pod-identity-association/" + c.Namespace + "/" + c.ServiceAccount
	manual := fmt.Sprintf("aws eks create-pod-identity-association --region %s --cluster-name %s --namespace %s --service-account %s --role-arn %s",
		r.s.Region, r.s.Cluster.Name, c.Namespace, c.ServiceAccount, c.RoleARN)
	list, err := r.c.EKS.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(r.s.Cluster.Name), Namespace: aws.String(c.Namespace), ServiceAccount: aws.String(c.ServiceAccount)})
	switch {
	case errors.Is(awsapi.Classify(err), awsapi.ErrNotImplemented):
		r.unsupported(res, "listing pod identity associations", err, manual)
		return
	case err != nil:
		r.fail(res, "listing pod identity associations", err)
		return
	case len(list.Associations) == 0:
		r.missing(res, "pod identity association for "+c.Namespace+"/"+c.ServiceAccount, func() error {
			_, err := r.c.EKS.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String(r.s.Cluster.Name), Namespace: aws.String(c.Namespace), ServiceAccount: aws.String(c.ServiceAccount),
				RoleArn: aws.String(c.RoleARN), Tags: r.s.TagMap()})
			return err
		})
		return
	}
	out, err := r.c.EKS.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
		ClusterName: aws.String(r.s.Cluster.Name), AssociationId: list.Associations[0].AssociationId})
	switch {
	case err != nil:
		r.fail(res, "reading the pod identity association", err)
	case str(out.Association.RoleArn) != c.RoleARN && r.notOwned(out.Association.Tags) != "":
		r.refuse(res, "it gives the service account role "+str(out.Association.RoleArn))
	case str(out.Association.RoleArn) != c.RoleARN:
		r.drift(res, "the association gives role "+str(out.Association.RoleArn)+", not "+c.RoleARN)
	default:
		r.exists(res, "the service account is associated with "+c.RoleName)
	}
}
