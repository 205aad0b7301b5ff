package cutover

import (
	"time"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

func quote(s string) string       { return script.Quote(s) }
func words(s []string) string     { return script.Words(s) }
func secs(d time.Duration) string { return script.Seconds(d) }

func flag01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// RunbookSettings are the runbook variables for a plan's cluster.
func RunbookSettings(cluster, region string) script.Settings {
	return script.Settings{Cluster: cluster, Region: region, StateNamespace: StateNamespace, StateName: StateName, LeaseName: LeaseName}
}

// scriptWait polls every 2 s: close to the executor's default --poll-interval (1 s), as
// each poll of a self-managed group costs an aws CLI call (about 1.3 s to start).
func scriptWait(until, what string, timeout time.Duration) *script.Wait {
	return &script.Wait{Until: until, What: what, Timeout: timeout, Interval: 2 * time.Second}
}
