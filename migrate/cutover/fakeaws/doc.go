// Package fakeaws holds stateful, in-memory implementations of the EKS and Auto Scaling
// APIs cutover uses (cutover.EKSAPI, cutover.AutoScalingAPI): an update really changes
// a group's sizes and is validated as the service validates it, errors can be queued
// per operation (FailNext), and an OnResize hook tells whoever plays the fleet that a
// group's desired size changed.
//
// They back the cutover tests (cutovertest) and the demo sandbox (migrate/sandbox),
// which is product code; so this is an ordinary package, not a test helper. It imports
// the AWS SDK's types only, never a client.
package fakeaws
