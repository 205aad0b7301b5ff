package script

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "''",
		"ng-spot":          "ng-spot",
		"kube-system/ca":   "kube-system/ca",
		"a b":              "'a b'",
		"it's":             `'it'"'"'s'`,
		"$(rm -rf /)":      "'$(rm -rf /)'",
		"app=karpenter,x":  "app=karpenter,x",
		"line\nbreak":      "'line\nbreak'",
		"25%":              "25%",
		"arn:aws:iam::1:r": "arn:aws:iam::1:r",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
	if got := Words([]string{"a", "b c"}); got != "a 'b c'" {
		t.Errorf("Words: %s", got)
	}
}

// Every quoted word reads back as itself in bash.
func TestQuoteRoundTripsThroughBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	in := []string{"plain", "with space", "it's", `back\slash`, "$HOME", "`id`", "multi\nline", "*"}
	out, err := exec.Command(bash, "-c", `printf '%s\0' `+Words(in)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(in, "|") {
		t.Errorf("bash read back %q, want %q", got, in)
	}
}

func TestSeconds(t *testing.T) {
	if Seconds(90*time.Second) != "90" || Seconds(0) != "1" || Seconds(15*time.Minute) != "900" {
		t.Error(Seconds(90*time.Second), Seconds(0), Seconds(15*time.Minute))
	}
}

func TestPreludeIsValidBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	src := "set -euo pipefail\n" + strings.Join(Settings{Cluster: "c", Region: "r", StateNamespace: "kube-system", StateName: "s", LeaseName: "l"}.Variables(), "\n") + "\n" + Prelude()
	cmd := exec.Command(bash, "-n")
	cmd.Stdin = strings.NewReader(src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, b)
	}
	if strings.Contains(src, "LEASE_SECONDS") {
		t.Error("placeholder left in the prelude")
	}
}
