package awsapi

import (
	"errors"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Error kinds. Classify maps an SDK error to one of them; callers wrap them so that
// errors.Is works and the CLI can print one line.
var (
	// ErrCredentials: no usable credentials, or the service rejected them as invalid
	// or expired.
	ErrCredentials = errors.New("AWS credentials are missing, invalid or expired")
	// ErrAccessDenied: the credentials are valid but not allowed to make the call.
	ErrAccessDenied = errors.New("access denied")
	// ErrNotFound: the named resource does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNotImplemented: the endpoint does not implement the call (moto answers
	// unimplemented EKS routes with an HTML 404 page, not an AWS error).
	ErrNotImplemented = errors.New("not implemented by the endpoint")
)

var credentialCodes = map[string]bool{
	"ExpiredToken":                        true,
	"ExpiredTokenException":               true,
	"InvalidClientTokenId":                true,
	"UnrecognizedClientException":         true,
	"InvalidAccessKeyId":                  true,
	"AuthFailure":                         true,
	"SignatureDoesNotMatch":               true,
	"InvalidSignatureException":           true,
	"IncompleteSignature":                 true,
	"MissingAuthenticationToken":          true,
	"MissingAuthenticationTokenException": true,
	"InvalidToken":                        true,
	"TokenRefreshRequired":                true,
}

var accessDeniedCodes = map[string]bool{
	"AccessDenied":          true,
	"AccessDeniedException": true,
	"UnauthorizedOperation": true,
	"UnauthorizedAccess":    true,
	"Forbidden":             true,
}

var notImplementedCodes = map[string]bool{
	"NotImplemented":            true,
	"InvalidAction":             true,
	"UnknownOperationException": true,
}

// Classify returns ErrCredentials, ErrAccessDenied, ErrNotFound or ErrNotImplemented
// for an SDK error of that kind, and nil for anything else (throttling that outlasted
// the retries, 5xx, network errors, ...). It judges by the AWS error code first and by
// the HTTP status when the response carried no AWS error (an HTML page).
func Classify(err error) error {
	if err == nil {
		return nil
	}
	code := ErrorCode(err)
	switch {
	case credentialCodes[code]:
		return ErrCredentials
	case accessDeniedCodes[code]:
		return ErrAccessDenied
	case notImplementedCodes[code]:
		return ErrNotImplemented
	case isNotFoundCode(code):
		return ErrNotFound
	}
	if code == "" && isCredentialRetrieval(err) {
		return ErrCredentials
	}
	if code != "" {
		return nil
	}
	switch HTTPStatus(err) {
	case 401:
		return ErrCredentials
	case 403:
		return ErrAccessDenied
	case 404, 405, 501:
		return ErrNotImplemented
	}
	return nil
}

func isNotFoundCode(code string) bool {
	return code == "ResourceNotFoundException" || code == "NotFoundException" ||
		strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException") ||
		strings.HasSuffix(code, ".VersionNotFound")
}

// isCredentialRetrieval recognises the SDK's failure to obtain credentials before
// sending anything: every service wraps it as "get identity: ..." and the v4 signer
// as "failed to retrieve credentials"; the providers' own error types are not exported.
func isCredentialRetrieval(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return false // a response came back, so credentials were sent
	}
	msg := err.Error()
	return strings.Contains(msg, "get identity: ") || strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "failed to refresh cached credentials")
}

// ErrorCode returns the AWS error code of err ("AccessDeniedException", ...) or "".
func ErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// ErrorMessage returns the AWS error message of err, or err.Error() when the response
// carried no AWS error.
func ErrorMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := ae.ErrorMessage(); m != "" {
			return m
		}
		return ae.ErrorCode()
	}
	return err.Error()
}

// HTTPStatus returns the HTTP status code of the response behind err, or 0 when no
// response was received.
func HTTPStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
