// Package fake provides stateful in-memory implementations of the awsapi interfaces for
// unit tests and the demo sandbox (the karpenter pkg/fake pattern): objects are put in
// with Put* methods and read back by the Describe/List calls with the real service's
// not-found, filter and paging behaviour; every input is recorded; errors can be
// injected per operation; Reset returns a fake to empty.
//
// The fakes are safe for concurrent use. They must not import anything but the SDK.
package fake
