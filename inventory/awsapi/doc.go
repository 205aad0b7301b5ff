// Package awsapi declares the narrow AWS SDK interfaces karpshift's inventory uses, one
// per service and listing only the calls made, with the SDK's exact signatures: the real
// *eks.Client, *autoscaling.Client and *ec2.Client satisfy them, the SDK paginators accept
// them, and tests or the demo sandbox plug in the stateful fakes of package awsapi/fake.
//
// It also loads the AWS configuration (profiles, SSO, environment, AWS_ENDPOINT_URL) and
// classifies SDK errors (credentials, access denied, not found, not implemented) so that
// callers can print one clear line.
//
// Only read calls belong here: inventory must never change anything. The package must not
// import migrate, render, tui or cobra.
package awsapi
