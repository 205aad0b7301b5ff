package fakeaws

import (
	"errors"
	"net/http"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// NotImplemented404 is the error aws-sdk-go-v2 returns for a call moto does not
// implement: an HTML 404 page that fails to deserialize.
func NotImplemented404() error {
	return &smithyOperationError{err: &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 404, Header: http.Header{}}},
		Err:      errors.New("deserialization failed: invalid character '<' looking for beginning of value"),
	}}}
}

type smithyOperationError struct{ err error }

func (e *smithyOperationError) Error() string {
	return "operation error EKS: ListAccessEntries, " + e.err.Error()
}
func (e *smithyOperationError) Unwrap() error { return e.err }

// Sizes of a fake group.
type Sizes struct{ Min, Max, Desired int32 }

// failures injects errors: the next calls of an operation fail with the queued errors.
type failures struct {
	mu   sync.Mutex
	next map[string][]error
}

// FailNext makes the next call of op fail with err (queue several for several calls).
func (f *failures) FailNext(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.next == nil {
		f.next = map[string][]error{}
	}
	f.next[op] = append(f.next[op], err)
}

func (f *failures) take(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.next[op]
	if len(q) == 0 {
		return nil
	}
	f.next[op] = q[1:]
	return q[0]
}
