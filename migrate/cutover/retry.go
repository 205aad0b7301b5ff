package cutover

import (
	"context"
	"errors"
	"net"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// recoverableAWSCodes are AWS error codes worth another try: throttling, a busy
// resource (an update in progress), and server-side failures.
var recoverableAWSCodes = map[string]bool{
	"Throttling":                  true,
	"ThrottlingException":         true,
	"ThrottledException":          true,
	"RequestLimitExceeded":        true,
	"TooManyRequestsException":    true,
	"RequestThrottled":            true,
	"ResourceInUseException":      true, // EKS: another node group update is running
	"ScalingActivityInProgress":   true, // Auto Scaling
	"ResourceContention":          true,
	"ServerException":             true,
	"ServiceUnavailable":          true,
	"ServiceUnavailableException": true,
	"InternalFailure":             true,
	"InternalError":               true,
}

// recoverable reports whether err is transient: throttling, 429 (PDB or API priority
// and fairness), 5xx, conflicts, timeouts and dropped connections.
func recoverable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch {
	case apierrors.IsConflict(err), apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err),
		apierrors.IsTimeout(err), apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err),
		apierrors.IsUnexpectedServerError(err):
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && recoverableAWSCodes[ae.ErrorCode()] {
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		if s := re.HTTPStatusCode(); s == 429 || s >= 500 && s != 501 {
			return true
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return utilnet.IsConnectionReset(err) || utilnet.IsConnectionRefused(err) || utilnet.IsProbableEOF(err)
}

// defaultBackoff is the retry schedule for recoverable errors: 1s, 2s, 4s, 8s, 16s,
// then 30s three times (about two minutes: an EKS node group update in progress, which
// answers ResourceInUseException, usually finishes by then).
var defaultBackoff = wait.Backoff{Duration: time.Second, Factor: 2, Steps: 8, Cap: 30 * time.Second}

// retry runs op until it succeeds, fails with an unrecoverable error, or the backoff is
// spent. Waits use the env's clock.
func (e *Env) retry(ctx context.Context, what string, op func(context.Context) error) error {
	b := defaultBackoff
	for {
		err := op(ctx)
		if err == nil || !recoverable(err) || b.Steps <= 0 {
			return err
		}
		d := b.Step()
		e.emit(Event{Type: Warning, Message: what + ": " + err.Error() + " (retrying in " + d.String() + ")"})
		if serr := e.sleep(ctx, d); serr != nil {
			return serr
		}
	}
}
