package permissions

import (
	"fmt"
	"slices"
	"strings"
)

// Mode is what karpshift is allowed to do; each mode includes the permissions of the
// modes it builds on.
type Mode string

const (
	// Read: inventory, plan, simulate and runbook against a live cluster. Changes nothing.
	Read Mode = "read"
	// Migrate: migrate and rollback (which re-scan the cluster first): resize groups,
	// pause Cluster Autoscaler, cordon, evict, apply Karpenter objects, the journal and
	// the lock. Includes Read.
	Migrate Mode = "migrate"
	// Cleanup: cleanup, which deletes the groups a migration emptied. Includes Migrate.
	Cleanup Mode = "cleanup"
	// Bootstrap: bootstrap --approve/--verify, which creates Karpenter's IAM roles,
	// instance profiles, interruption queue and rules, node access and discovery tags.
	// Includes Read (bootstrap scans the cluster unless given --spec or --snapshot).
	Bootstrap Mode = "bootstrap"
)

// Modes lists every mode, in order.
func Modes() []Mode { return []Mode{Read, Migrate, Cleanup, Bootstrap} }

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Modes(), m) {
		var names []string
		for _, m := range Modes() {
			names = append(names, string(m))
		}
		return "", fmt.Errorf("mode %q: want one of %s", s, strings.Join(names, ", "))
	}
	return m, nil
}

// Includes returns the modes whose permissions m has, m last.
func (m Mode) Includes() []Mode {
	switch m {
	case Read:
		return []Mode{Read}
	case Migrate:
		return []Mode{Read, Migrate}
	case Cleanup:
		return []Mode{Read, Migrate, Cleanup}
	case Bootstrap:
		return []Mode{Read, Bootstrap}
	}
	return nil
}

// Description says in one line what the mode lets karpshift do.
func (m Mode) Description() string {
	switch m {
	case Read:
		return "read-only: karpshift inventory, plan, simulate and runbook against the live cluster"
	case Migrate:
		return "karpshift migrate and rollback: read, plus resizing the groups, pausing Cluster Autoscaler, cordoning, evicting, applying NodePools and EC2NodeClasses, the journal and the lock"
	case Cleanup:
		return "karpshift cleanup: migrate, plus deleting the emptied node groups and Auto Scaling groups and reading instance profiles"
	case Bootstrap:
		return "karpshift bootstrap --approve/--verify: read, plus creating Karpenter's IAM roles, instance profiles, interruption queue, EventBridge rules, node access and discovery tags"
	}
	return ""
}

func (m Mode) title() string {
	if m == "" {
		return ""
	}
	return strings.ToUpper(string(m[:1])) + string(m[1:])
}
