package main

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/inventory/kubescan"
)

// kubeClients builds the Kubernetes clients from --kubeconfig/--context with
// client-go's standard loading rules (exec plugins such as aws eks get-token work).
func (g *globalOptions) kubeClients() (kubernetes.Interface, dynamic.Interface, *rest.Config, error) {
	kube, dyn, cfg, err := kubescan.NewClients(g.kubeconfig, g.context)
	if err != nil {
		return nil, nil, nil, withCode(exitUsage, err)
	}
	return kube, dyn, cfg, nil
}

// awsConfig loads the AWS configuration (profiles, SSO, environment, AWS_ENDPOINT_URL)
// with --region and --profile applied.
func (g *globalOptions) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsapi.LoadConfig(ctx, g.region, g.profile)
	if errors.Is(err, awsapi.ErrNoRegion) {
		return aws.Config{}, withCode(exitUsage, err)
	}
	return cfg, err
}
