package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// runCLI runs the command line in-process and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), code
}

func TestInventoryTableFromSnapshot(t *testing.T) {
	out, stderr, code := runCLI(t, "inventory", "--snapshot", "testdata/inventory-snapshot.yaml")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{
		"NAME", "CA PRIORITY",
		"api-split     self-managed",
		"mixed (od base 2, 25% od)",
		"c5.xlarge,c5a.xlarge,c6i.2xlarge  0/6/30",
		"Cluster Autoscaler: kube-system/cluster-autoscaler",
		"aws-node-termination-handler",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestInventorySaveRoundTrips(t *testing.T) {
	dir := t.TempDir()
	saved := filepath.Join(dir, "s.json")
	out, stderr, code := runCLI(t, "inventory", "--snapshot", "testdata/inventory-snapshot.yaml", "--save", saved, "-o", "yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s, err := snapshot.LoadFile(saved)
	if err != nil {
		t.Fatalf("saved snapshot does not load: %v", err)
	}
	again, err := snapshot.Marshal(s, snapshot.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != out {
		t.Errorf("the saved JSON and the printed YAML describe different snapshots")
	}
}

func TestInventoryBadInputIsOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	orig, err := os.ReadFile("testdata/inventory-snapshot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(orig, []byte("maxSize: 30"), []byte("maxSize: -3"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		args []string
		want string
		code int
	}{
		"invalid field":   {[]string{"inventory", "--snapshot", bad}, "maxSize", 2},
		"missing file":    {[]string{"inventory", "--snapshot", filepath.Join(dir, "nope.yaml")}, "no such file", 2},
		"bad output":      {[]string{"inventory", "--snapshot", bad, "-o", "xml"}, `-o "xml"`, 2},
		"no source":       {[]string{"inventory"}, "--snapshot FILE or --cluster NAME", 2},
		"bad log format":  {[]string{"inventory", "--log-format", "xml"}, "--log-format", 2},
		"unknown command": {[]string{"inventroy"}, "unknown command", 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not name %q", stderr, tc.want)
			}
			first, rest, _ := strings.Cut(strings.TrimSpace(stderr), "\n")
			if !strings.HasPrefix(first, "error: ") || strings.Contains(stderr, "goroutine") ||
				(rest != "" && !strings.Contains(rest, "Did you mean")) {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}
