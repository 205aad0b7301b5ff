package awsapi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/awsapi/fake"
)

func TestClassify(t *testing.T) {
	op := func(err error) error {
		return &smithy.OperationError{ServiceID: "EKS", OperationName: "DescribeCluster", Err: err}
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, nil},
		{"eks not found", op(fake.APIError(404, "ResourceNotFoundException", "No cluster found for name: x.")), awsapi.ErrNotFound},
		{"lt not found", op(fake.APIError(400, "InvalidLaunchTemplateId.NotFound", "x")), awsapi.ErrNotFound},
		{"lt name not found", op(fake.APIError(400, "InvalidLaunchTemplateName.NotFoundException", "x")), awsapi.ErrNotFound},
		{"lt version", op(fake.APIError(400, "InvalidLaunchTemplateId.VersionNotFound", "x")), awsapi.ErrNotFound},
		{"eks bad token", op(fake.APIError(403, "UnrecognizedClientException", "bad")), awsapi.ErrCredentials},
		{"sts expired", op(fake.APIError(400, "ExpiredToken", "expired")), awsapi.ErrCredentials},
		{"ec2 auth", op(fake.APIError(401, "AuthFailure", "no")), awsapi.ErrCredentials},
		{"signature", op(fake.APIError(403, "SignatureDoesNotMatch", "no")), awsapi.ErrCredentials},
		{"no credentials", op(fake.CredentialsError()), awsapi.ErrCredentials},
		{"eks denied", op(fake.APIError(403, "AccessDeniedException", "no")), awsapi.ErrAccessDenied},
		{"asg denied", op(fake.APIError(403, "AccessDenied", "no")), awsapi.ErrAccessDenied},
		{"ec2 denied", op(fake.APIError(403, "UnauthorizedOperation", "no")), awsapi.ErrAccessDenied},
		{"403 page", op(fake.HTMLError(403)), awsapi.ErrAccessDenied},
		{"moto 404 page", op(fake.HTMLError(404)), awsapi.ErrNotImplemented},
		{"invalid action", op(fake.APIError(400, "InvalidAction", "no")), awsapi.ErrNotImplemented},
		{"throttled", op(fake.APIError(400, "Throttling", "slow down")), nil},
		{"server", op(fake.APIError(500, "InternalFailure", "x")), nil},
		{"500 page", op(fake.HTMLError(500)), nil},
		{"network", op(errors.New("dial tcp 127.0.0.1:1: connect: connection refused")), nil},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := awsapi.Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestErrorDetails(t *testing.T) {
	err := &smithy.OperationError{ServiceID: "EKS", OperationName: "DescribeCluster",
		Err: fake.APIError(404, "ResourceNotFoundException", "No cluster found for name: x.")}
	if got := awsapi.ErrorCode(err); got != "ResourceNotFoundException" {
		t.Errorf("ErrorCode = %q", got)
	}
	if got := awsapi.ErrorMessage(err); got != "No cluster found for name: x." {
		t.Errorf("ErrorMessage = %q", got)
	}
	if got := awsapi.HTTPStatus(err); got != 404 {
		t.Errorf("HTTPStatus = %d", got)
	}
	plain := errors.New("boom")
	if awsapi.ErrorCode(plain) != "" || awsapi.ErrorMessage(plain) != "boom" || awsapi.HTTPStatus(plain) != 0 {
		t.Error("a non-AWS error has an AWS code, message or status")
	}
}
