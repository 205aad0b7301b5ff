package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// moto is a moto_server this generator started on a loopback port.
type moto struct {
	cmd    *exec.Cmd
	exited chan error // receives Wait's result once the process is gone
	url    string
	output bytes.Buffer // moto's own log, shown only when it fails
}

// startMoto runs moto_server on a free 127.0.0.1 port and waits until it answers HTTP.
func startMoto(ctx context.Context, bin string) (*moto, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	m := &moto{url: "http://127.0.0.1:" + strconv.Itoa(port)}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	m.cmd.Stdout, m.cmd.Stderr = &m.output, &m.output
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	m.exited = make(chan error, 1)
	go func() { m.exited <- m.cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"/moto-api/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return m, nil
		}
		select {
		case err := <-m.exited:
			return nil, fmt.Errorf("moto_server exited before answering (%v): %s", err, m.output.String())
		case <-ctx.Done():
			m.stop()
			return nil, fmt.Errorf("waiting for moto_server on %s: %w; its output: %s", m.url, ctx.Err(), m.output.String())
		case <-tick.C:
		}
	}
}

// stop ends the moto_server process group this generator started (a pyenv shim runs
// python as a child): SIGTERM, then SIGKILL after 10 s.
func (m *moto) stop() {
	pgid := m.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-m.exited
	}
}

// client is an EC2 client aimed at moto with the static test credentials moto expects.
func (m *moto) client(region string) *ec2.Client {
	return ec2.NewFromConfig(aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(m.url),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "karpshift-gen"}, nil
		}),
	})
}

// describeAll reads every DescribeInstanceTypes page with Karpenter's filters.
func describeAll(ctx context.Context, api ec2.DescribeInstanceTypesAPIClient, filters []ec2types.Filter) ([]ec2types.InstanceTypeInfo, error) {
	p := ec2.NewDescribeInstanceTypesPaginator(api, &ec2.DescribeInstanceTypesInput{
		Filters:    filters,
		MaxResults: aws.Int32(100),
	})
	var out []ec2types.InstanceTypeInfo
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance types: %w", err)
		}
		out = append(out, page.InstanceTypes...)
	}
	if len(out) == 0 {
		return nil, errors.New("describing instance types: moto returned none")
	}
	return out, nil
}

// offered lists the instance types offered in the client's region.
func offered(ctx context.Context, api ec2.DescribeInstanceTypeOfferingsAPIClient) (map[string]bool, error) {
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(api, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeRegion,
	})
	out := map[string]bool{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance type offerings: %w", err)
		}
		for _, o := range page.InstanceTypeOfferings {
			out[string(o.InstanceType)] = true
		}
	}
	return out, nil
}

// motoVersion asks the Python that runs moto for the installed distribution's version.
func motoVersion(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c",
		"import importlib.metadata as m; print(m.version('moto'))").Output()
	if err != nil {
		return "", fmt.Errorf("reading moto's version with %s: %w (pass -moto-version)", python, err)
	}
	return strings.TrimSpace(string(out)), nil
}
