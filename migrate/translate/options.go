package translate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/karpshift/karpshift/migrate/plan"
)

// Option values.
const (
	MergeAuto = "auto"
	MergeNone = "none"
	AMIPinned = "pinned"
	AMILatest = "latest"

	// DefaultKarpenterVersion is the oldest v1 release; output for it is the portable
	// subset accepted by every release from v1.0.8 to v1.15.2.
	DefaultKarpenterVersion = "1.0"
)

// ErrOption wraps every error about the translation options.
var ErrOption = errors.New("invalid option")

// DefaultOptions returns the options `karpshift plan` uses when no flag is given.
func DefaultOptions() plan.Options {
	return plan.Options{Merge: MergeAuto, AMI: AMIPinned, KarpenterVersion: DefaultKarpenterVersion}
}

var (
	cronMacro = regexp.MustCompile(`^@(annually|yearly|monthly|weekly|daily|midnight|hourly)$`)
	cronField = regexp.MustCompile(`^[0-9A-Za-z*,/?-]+$`)
)

// NormalizeOptions fills defaults and checks the options, returning them in canonical
// form (sorted, de-duplicated names; "1.15" style version; "8h" style freeze duration).
// Errors wrap ErrOption and name the option.
func NormalizeOptions(o plan.Options) (plan.Options, error) {
	d := DefaultOptions()
	if o.Merge == "" {
		o.Merge = d.Merge
	}
	if o.AMI == "" {
		o.AMI = d.AMI
	}
	if o.KarpenterVersion == "" {
		o.KarpenterVersion = d.KarpenterVersion
	}
	if o.Merge != MergeAuto && o.Merge != MergeNone {
		return o, fmt.Errorf("%w: merge %q: want auto or none", ErrOption, o.Merge)
	}
	if o.AMI != AMIPinned && o.AMI != AMILatest {
		return o, fmt.Errorf("%w: ami %q: want pinned or latest", ErrOption, o.AMI)
	}
	v, err := parseVersion(o.KarpenterVersion)
	if err != nil {
		return o, fmt.Errorf("%w: karpenter-version %q: %v", ErrOption, o.KarpenterVersion, err)
	}
	o.KarpenterVersion = v.String()
	switch {
	case o.FreezeSchedule == "" && o.FreezeFor == "":
	case o.FreezeSchedule == "" || o.FreezeFor == "":
		return o, fmt.Errorf("%w: freeze and freeze-for go together (a budget schedule needs a duration)", ErrOption)
	default:
		sched := strings.Join(strings.Fields(o.FreezeSchedule), " ")
		if err := checkCron(sched); err != nil {
			return o, fmt.Errorf("%w: freeze %q: %v", ErrOption, o.FreezeSchedule, err)
		}
		o.FreezeSchedule = sched
		dur, err := budgetDuration(o.FreezeFor)
		if err != nil {
			return o, fmt.Errorf("%w: freeze-for %q: %v", ErrOption, o.FreezeFor, err)
		}
		o.FreezeFor = dur
	}
	o.Exclude = sortedUnique(o.Exclude)
	o.Keep = sortedUnique(o.Keep)
	for _, n := range o.Exclude {
		if slices.Contains(o.Keep, n) {
			return o, fmt.Errorf("%w: group %q is both excluded and kept", ErrOption, n)
		}
	}
	if o.NodeRole != "" {
		o.NodeRole = roleName(o.NodeRole)
		if o.NodeRole == "" {
			return o, fmt.Errorf("%w: node-role: no role name in it", ErrOption)
		}
	}
	return o, nil
}

func checkCron(s string) error {
	if cronMacro.MatchString(s) {
		return nil
	}
	f := strings.Fields(s)
	if len(f) != 5 {
		return fmt.Errorf("want 5 cron fields (minute hour day-of-month month day-of-week, UTC) or a macro such as @daily, got %d fields", len(f))
	}
	for _, x := range f {
		if !cronField.MatchString(x) {
			return fmt.Errorf("cron field %q has characters cron does not use", x)
		}
	}
	return nil
}

// budgetDuration renders a Go duration in the form a budget accepts: whole minutes,
// hours and minutes only ("8h", "1h30m", "45m").
func budgetDuration(s string) (string, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return "", err
	}
	if d < time.Minute || d%time.Minute != 0 {
		return "", errors.New("want a whole number of minutes, at least 1m (budgets accept hours and minutes only)")
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m), nil
	case m == 0:
		return fmt.Sprintf("%dh", h), nil
	}
	return fmt.Sprintf("%dh%dm", h, m), nil
}

func sortedUnique(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// version is a Karpenter minor release line (patch levels do not change the API).
type version struct{ major, minor int }

func (v version) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v version) atLeast(minor int) bool { return v.minor >= minor }

func parseVersion(s string) (version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.Split(t, ".")
	if len(parts) < 1 || len(parts) > 3 {
		return version{}, errors.New("want a version such as 1.15 or v1.15.2")
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return version{}, errors.New("want a version such as 1.15 or v1.15.2")
		}
		n[i] = x
	}
	if n[0] != 1 {
		return version{}, errors.New("karpshift emits the Karpenter v1 API: want 1.x")
	}
	return version{major: 1, minor: n[1]}, nil
}

// Minor releases that introduced the newer fields karpshift can emit (karpenter-mapping.md
// §1.11 and the Karpenter release notes).
const (
	sinceCapacityReservations = 3  // capacityReservationSelectorTerms, capacity type "reserved" (ODCR)
	sinceSSMParameter         = 4  // amiSelectorTerms[].ssmParameter
	sinceCapacityBlocks       = 6  // capacity-block reservations
	sinceOpenLabelDomains     = 12 // kubernetes.io / k8s.io template labels no longer restricted
	sinceWindows2025          = 12 // windows2025 alias and Windows2025 family
)
