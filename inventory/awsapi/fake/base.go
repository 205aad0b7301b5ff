package fake

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Call is one recorded operation.
type Call struct {
	Op    string
	Input any
}

// base records calls and injects errors; every fake embeds it.
type base struct {
	service string

	mu       sync.Mutex
	calls    []Call
	failing  map[string]error
	failNext map[string][]error
}

// record logs the call and returns the error to inject, if any, wrapped like the
// SDK wraps operation errors.
func (b *base) record(op string, in any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, Call{Op: op, Input: in})
	var err error
	if q := b.failNext[op]; len(q) > 0 {
		err, b.failNext[op] = q[0], q[1:]
	} else if e, ok := b.failing[op]; ok {
		err = e
	}
	if err == nil {
		return nil
	}
	return b.wrap(op, err)
}

func (b *base) wrap(op string, err error) error {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return err
	}
	return &smithy.OperationError{ServiceID: b.service, OperationName: op, Err: err}
}

// Fail makes every call of op fail with err until Reset or Fail(op, nil).
func (b *base) Fail(op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failing == nil {
		b.failing = map[string]error{}
	}
	if err == nil {
		delete(b.failing, op)
		return
	}
	b.failing[op] = err
}

// FailNext makes the next call of op fail with err (queued: calling it twice fails the
// next two calls).
func (b *base) FailNext(op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failNext == nil {
		b.failNext = map[string][]error{}
	}
	b.failNext[op] = append(b.failNext[op], err)
}

// Calls returns every recorded call, in order.
func (b *base) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// Inputs returns the inputs op received, in order.
func (b *base) Inputs(op string) []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []any
	for _, c := range b.calls {
		if c.Op == op {
			out = append(out, c.Input)
		}
	}
	return out
}

// Count returns how many times op was called.
func (b *base) Count(op string) int { return len(b.Inputs(op)) }

func (b *base) resetBase() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls, b.failing, b.failNext = nil, nil, nil
}

// APIError builds an error shaped like the SDK's for an AWS error response: an
// *awshttp.ResponseError with the given HTTP status around a smithy.APIError with code
// and message. The fake wraps it in a *smithy.OperationError when it is returned.
func APIError(status int, code, message string) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err:      &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient},
	}}
}

// HTMLError builds the error the SDK returns when the response is not an AWS error at
// all (moto's 404 page for an unimplemented route): a status and a deserialization
// failure, no error code.
func HTMLError(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err: &smithy.DeserializationError{
			Err: errors.New("failed to decode response body, invalid character '<' looking for beginning of value"),
		},
	}}
}

// CredentialsError builds the error the SDK returns when no credentials could be
// obtained (nothing was sent).
func CredentialsError() error {
	return errors.New("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found")
}

// page cuts items at the token (an index) and returns the next token, "" at the end.
func page[T any](items []T, token *string, size int) ([]T, *string) {
	start := 0
	if token != nil && *token != "" {
		start, _ = strconv.Atoi(*token)
	}
	start = min(max(start, 0), len(items))
	end := len(items)
	if size > 0 && start+size < end {
		end = start + size
	}
	if end < len(items) {
		next := strconv.Itoa(end)
		return items[start:end], &next
	}
	return items[start:end], nil
}
