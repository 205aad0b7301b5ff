package cutovertest

import "github.com/karpshift/karpshift/migrate/cutover/fakeaws"

// The stateful EKS and Auto Scaling fakes live in fakeaws, which the demo sandbox
// shares; these names keep the tests that use cutovertest unchanged.
type (
	// Sizes of a fake group.
	Sizes = fakeaws.Sizes
	// EKS is a stateful fake of cutover.EKSAPI.
	EKS = fakeaws.EKS
	// AutoScaling is a stateful fake of cutover.AutoScalingAPI.
	AutoScaling = fakeaws.AutoScaling
)

// NewEKS returns a fake with no node groups.
func NewEKS(cluster string) *EKS { return fakeaws.NewEKS(cluster) }

// NewAutoScaling returns a fake with no groups.
func NewAutoScaling() *AutoScaling { return fakeaws.NewAutoScaling() }

// NotImplemented404 is the error aws-sdk-go-v2 returns for a call moto does not
// implement: an HTML 404 page that fails to deserialize.
func NotImplemented404() error { return fakeaws.NotImplemented404() }
