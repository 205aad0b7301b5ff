package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var getOpts = metav1.GetOptions{}

// roleMatches reports whether an IAM role ARN (any path) names role (a name or an ARN).
func roleMatches(arn, role string) bool {
	if arn == "" || role == "" {
		return false
	}
	if strings.HasPrefix(role, "arn:") {
		return arn == role
	}
	if !strings.Contains(arn, ":role/") {
		return false
	}
	return arn[strings.LastIndexByte(arn, '/')+1:] == role
}

// roleCanJoin says how the node role may join the cluster ("access entry ... " or
// "aws-auth"), or "" when it may not. Access entries come first; when the endpoint has
// no access-entry API (moto answers 404), the cluster is in CONFIG_MAP mode, or the
// caller may not list them, it says so and checks aws-auth.
func (e *Env) roleCanJoin(ctx context.Context, role string) (string, error) {
	c := e.c()
	if c.EKS != nil {
		arns, err := e.accessEntries(ctx)
		switch {
		case err == nil:
			var wrong []string
			for _, arn := range arns {
				if !roleMatches(arn, role) {
					continue
				}
				out, err := c.EKS.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(e.Cluster), PrincipalArn: aws.String(arn)})
				if err != nil {
					return "", fmt.Errorf("describing access entry %s: %w", arn, err)
				}
				t := ""
				if out.AccessEntry != nil {
					t = aws.ToString(out.AccessEntry.Type)
				}
				if t == "EC2_LINUX" || t == "EC2_WINDOWS" {
					return "access entry " + t, nil
				}
				wrong = append(wrong, arn+" is "+t)
			}
			if len(wrong) > 0 {
				e.emit(Event{Type: Warning, Message: fmt.Sprintf("access entry for node role %s has the wrong type (%s): nodes need EC2_LINUX", role, strings.Join(wrong, ", "))})
			}
		case notImplemented(err):
			e.emit(Event{Type: Info, Message: fmt.Sprintf("the EKS endpoint does not implement ListAccessEntries (%s): checking aws-auth only", errSummary(err))})
		case awsCode(err) == "InvalidRequestException":
			e.emit(Event{Type: Info, Message: "the cluster's authentication mode does not use access entries (CONFIG_MAP): checking aws-auth"})
		case awsCode(err) == "AccessDeniedException" || awsCode(err) == "AccessDenied":
			e.emit(Event{Type: Warning, Message: "not allowed to list access entries (eks:ListAccessEntries): checking aws-auth only"})
		default:
			return "", fmt.Errorf("listing access entries: %w", err)
		}
	}
	ok, err := e.awsAuthMapsRole(ctx, role)
	if err != nil || !ok {
		return "", err
	}
	return "aws-auth", nil
}

func (e *Env) accessEntries(ctx context.Context) ([]string, error) {
	var arns []string
	p := eks.NewListAccessEntriesPaginator(e.c().EKS, &eks.ListAccessEntriesInput{ClusterName: aws.String(e.Cluster)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		arns = append(arns, out.AccessEntries...)
	}
	slices.Sort(arns)
	return arns, nil
}

// awsAuthMapsRole reports whether kube-system/aws-auth maps the role into system:nodes.
func (e *Env) awsAuthMapsRole(ctx context.Context, role string) (bool, error) {
	cm, err := e.c().Kube.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", getOpts)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading kube-system/aws-auth: %w", err)
	}
	var roles []struct {
		RoleARN string   `json:"rolearn"`
		Groups  []string `json:"groups"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["mapRoles"]), &roles); err != nil {
		return false, fmt.Errorf("reading kube-system/aws-auth mapRoles: %w", err)
	}
	for _, r := range roles {
		if roleMatches(r.RoleARN, role) && slices.Contains(r.Groups, "system:nodes") {
			return true, nil
		}
	}
	return false, nil
}

func awsCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// notImplemented: the endpoint has no such call (moto's HTML 404, or NotImplemented).
func notImplemented(err error) bool {
	switch awsCode(err) {
	case "NotImplemented", "UnknownOperationException", "InvalidAction":
		return true
	case "":
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			s := re.HTTPStatusCode()
			return s == 404 || s == 405 || s == 501
		}
	}
	return false
}

func errSummary(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
	}
	if c := awsCode(err); c != "" {
		return c
	}
	return err.Error()
}
