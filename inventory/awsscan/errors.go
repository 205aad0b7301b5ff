package awsscan

import (
	"context"
	"errors"
	"fmt"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

// Error kinds returned by Scan, for errors.Is.
var (
	// ErrClusterNotFound: DescribeCluster found no cluster of that name in the region.
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrCredentials: no usable AWS credentials, or AWS rejected them.
	ErrCredentials = awsapi.ErrCredentials
	// ErrAccessDenied: the credentials may not call DescribeCluster (on other calls
	// access denied only adds a warning).
	ErrAccessDenied = awsapi.ErrAccessDenied
	// ErrNotImplemented: the endpoint does not implement DescribeCluster.
	ErrNotImplemented = awsapi.ErrNotImplemented
)

// Error is a Scan failure of a known kind. Its message is one line fit for a CLI;
// errors.Is matches Kind, and errors.As reaches the SDK error underneath.
type Error struct {
	Kind error  // one of the Err* values above
	Op   string // the failing call, e.g. "eks:DescribeCluster"
	Msg  string
	Err  error // the SDK error
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// describeClusterError turns a DescribeCluster failure into a one-line error.
func describeClusterError(cluster, region string, err error) error {
	const op = "eks:DescribeCluster"
	where := "the configured region"
	if region != "" {
		where = "region " + region
	}
	switch awsapi.Classify(err) {
	case awsapi.ErrNotFound:
		return &Error{Kind: ErrClusterNotFound, Op: op, Err: err,
			Msg: fmt.Sprintf("cluster %q not found in %s", cluster, where)}
	case awsapi.ErrAccessDenied:
		return &Error{Kind: ErrAccessDenied, Op: op, Err: err,
			Msg: fmt.Sprintf("access denied: %s on cluster %q in %s: %s", op, cluster, where, awsapi.ErrorMessage(err))}
	case awsapi.ErrNotImplemented:
		return &Error{Kind: ErrNotImplemented, Op: op, Err: err,
			Msg: fmt.Sprintf("the AWS endpoint does not implement %s (HTTP %d)", op, awsapi.HTTPStatus(err))}
	}
	if e := credentialsError(op, err); e != nil {
		return e
	}
	return fmt.Errorf("describing cluster %q: %w", cluster, err)
}

// credentialsError returns an *Error for credential failures, nil otherwise.
func credentialsError(op string, err error) error {
	if awsapi.Classify(err) != awsapi.ErrCredentials {
		return nil
	}
	return &Error{Kind: ErrCredentials, Op: op, Err: err,
		Msg: fmt.Sprintf("AWS credentials are missing, invalid or expired (%s: %s); check AWS_PROFILE / AWS_ACCESS_KEY_ID or run aws sso login",
			op, awsapi.ErrorMessage(err))}
}

// optional handles the error of a call whose absence the scan survives: access denied
// and unimplemented calls become a warning (what says what is missing as a result);
// credential failures, cancellation and every other error stop the scan, wrapped with
// doing ("describing nodegroup \"x\"").
func (s *scanner) optional(op, doing, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", doing, err)
	}
	switch awsapi.Classify(err) {
	case awsapi.ErrAccessDenied:
		s.warnf("access denied to %s; %s", op, what)
		return nil
	case awsapi.ErrNotImplemented:
		s.warnf("the AWS endpoint does not implement %s (HTTP %d); %s", op, awsapi.HTTPStatus(err), what)
		return nil
	}
	if e := credentialsError(op, err); e != nil {
		return e
	}
	return fmt.Errorf("%s: %w", doing, err)
}
