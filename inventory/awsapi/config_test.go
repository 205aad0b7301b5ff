package awsapi_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/karpshift/karpshift/inventory/awsapi"
)

// isolate points the SDK at empty config files and clears the AWS_* variables that
// would leak from the machine into the test.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

func TestLoadConfigRegionAndEndpoint(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
	cfg, err := awsapi.LoadConfig(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-central-1" || aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:5055" {
		t.Errorf("region %q endpoint %q: the environment was not honoured", cfg.Region, aws.ToString(cfg.BaseEndpoint))
	}
	cfg, err = awsapi.LoadConfig(t.Context(), "us-west-2", "")
	if err != nil || cfg.Region != "us-west-2" {
		t.Errorf("the region argument must win over AWS_REGION: %q, %v", cfg.Region, err)
	}
}

func TestLoadConfigProfile(t *testing.T) {
	dir := isolate(t)
	config := "[profile ops]\nregion = ap-south-1\n"
	creds := "[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = secret\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsapi.LoadConfig(t.Context(), "", "ops")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-south-1" {
		t.Errorf("region = %q, want the profile's", cfg.Region)
	}
	c, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || c.AccessKeyID != "AKIDOPS" {
		t.Errorf("credentials = %+v, %v", c, err)
	}
	if _, err := awsapi.LoadConfig(t.Context(), "", "nosuch"); err == nil {
		t.Error("an unknown profile was accepted")
	}
}

func TestLoadConfigNoRegion(t *testing.T) {
	isolate(t)
	if _, err := awsapi.LoadConfig(t.Context(), "", ""); !errors.Is(err, awsapi.ErrNoRegion) {
		t.Errorf("err = %v, want ErrNoRegion", err)
	}
}

func TestNewClients(t *testing.T) {
	c := awsapi.NewClients(aws.Config{Region: "us-west-2"})
	if c.EKS == nil || c.AutoScaling == nil || c.EC2 == nil {
		t.Errorf("clients = %+v", c)
	}
}
