package awsapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// ErrNoRegion is returned by LoadConfig when neither the flag, the environment nor the
// profile names a region.
var ErrNoRegion = errors.New("no AWS region: pass --region, set AWS_REGION, or set a region in the profile")

// LoadConfig loads the AWS configuration the way the AWS CLI does (environment,
// shared config and credentials files, SSO, IMDS, AWS_ENDPOINT_URL), then applies
// region and profile when they are not empty. optFns are applied last (tests use them
// for an HTTP client). It does not contact AWS: credentials are resolved on first use.
func LoadConfig(ctx context.Context, region, profile string, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	opts = append(opts, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if profile != "" {
			return aws.Config{}, fmt.Errorf("loading AWS configuration for profile %q: %w", profile, err)
		}
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, ErrNoRegion
	}
	return cfg, nil
}
