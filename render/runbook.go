package render

import (
	"fmt"
	"strings"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// RunbookStep is what a runbook needs of a cutover step. cutover.Step satisfies it;
// steps may also implement Phase() string (confirmation phases) and
// Script() script.Script (the commands). render does not import cutover, which holds
// clients.
type RunbookStep interface {
	ID() string
	Describe() string
}

// RunbookFormat is sh (a bash script) or md (Markdown).
type RunbookFormat string

const (
	RunbookShell    RunbookFormat = "sh"
	RunbookMarkdown RunbookFormat = "md"
)

// RunbookOptions say what the runbook is for.
type RunbookOptions struct {
	// Title names the procedure ("migrate", "rollback").
	Title string
	// Settings are the cluster, region and state object names.
	Settings script.Settings
	// Source describes where the steps came from (plan.yaml, the snapshot fingerprint).
	Source string
}

type runbookEntry struct {
	n                int
	id, desc, phase  string
	scr              script.Script
	hasScript, first bool
}

func runbookEntries[S RunbookStep](steps []S) []runbookEntry {
	out := make([]runbookEntry, 0, len(steps))
	phase := ""
	for i, s := range steps {
		e := runbookEntry{n: i + 1, id: s.ID(), desc: s.Describe()}
		if p, ok := any(s).(interface{ Phase() string }); ok {
			e.phase = p.Phase()
		}
		if sc, ok := any(s).(interface{ Script() script.Script }); ok {
			e.scr, e.hasScript = sc.Script(), true
		}
		e.first = e.phase != phase
		phase = e.phase
		out = append(out, e)
	}
	return out
}

// Runbook renders steps as a reviewable runbook: a bash script that carries out the
// same checks, commands and waits as the executor, with a confirmation before each
// phase (RunbookShell), or the same content as Markdown (RunbookMarkdown). Both come
// from the one step list, so they cannot drift from what karpshift does.
func Runbook[S RunbookStep](steps []S, format RunbookFormat, o RunbookOptions) ([]byte, error) {
	entries := runbookEntries(steps)
	switch format {
	case RunbookShell:
		return runbookShell(entries, o), nil
	case RunbookMarkdown:
		return runbookMarkdown(entries, o), nil
	}
	return nil, fmt.Errorf("runbook format %q: want sh or md", format)
}

func runbookTitle(o RunbookOptions) string {
	t := o.Title
	if t == "" {
		t = "migrate"
	}
	return t
}

func runbookShell(entries []runbookEntry, o RunbookOptions) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	total := len(entries)
	p("#!/usr/bin/env bash")
	p("# karpshift runbook: %s, cluster %s.", runbookTitle(o), o.Settings.Cluster)
	if o.Source != "" {
		p("# Generated from %s.", o.Source)
	}
	p("#")
	p("# It runs the same checks, commands and waits as 'karpshift %s', step by step,", runbookTitle(o))
	p("# and asks before each phase (KS_YES=1 answers yes). Review every command first.")
	p("# Re-running it resumes: a step whose check says it is done is skipped.")
	p("# It takes the same lock (Lease %s/%s) and journal (ConfigMap %s/%s) as karpshift.", o.Settings.StateNamespace, o.Settings.LeaseName, o.Settings.StateNamespace, o.Settings.StateName)
	p("# Exit codes: 0 done, 1 a command failed, 3 a precondition blocked (that step changed")
	p("# nothing), 130 stopped at a confirmation.")
	p("set -euo pipefail")
	p("")
	for _, v := range o.Settings.Variables() {
		p("%s", v)
	}
	p("")
	b.WriteString(script.Prelude())
	p("")
	p("ks_lock")
	for _, e := range entries {
		if e.first && e.phase != "" {
			p("")
			p("# %s", strings.Repeat("=", 86))
			p("# Phase: %s", e.phase)
			p("# %s", strings.Repeat("=", 86))
			p("ks_confirm %s", script.Quote(e.phase))
		}
		p("")
		p("# [%d/%d] %s", e.n, total, e.id)
		p("# %s", e.desc)
		for _, n := range e.scr.Notes {
			p("# Note: %s", n)
		}
		fn := fmt.Sprintf("step_%d", e.n)
		s := e.scr
		if s.Require != "" {
			p("%s_require() {\n  %s\n}", fn, s.Require)
		}
		if s.Done != "" {
			p("%s_done() {\n  %s\n}", fn, s.Done)
		}
		if len(s.Apply) > 0 {
			p("%s_apply() {", fn)
			for _, c := range s.Apply {
				p("  %s", c)
			}
			p("}")
		}
		if s.Wait != nil {
			p("%s_wait() {\n  %s\n}", fn, s.Wait.Until)
		}
		p("ks_log %s", script.Quote(fmt.Sprintf("==> [%d/%d] %s: %s", e.n, total, e.id, e.desc)))
		if !e.hasScript || s.Require == "" && s.Done == "" && len(s.Apply) == 0 && s.Wait == nil {
			p("ks_log '    checked by karpshift only (see the note above)'")
			continue
		}
		if s.Require != "" {
			p("%s_require || ks_blocked %s", fn, script.Quote(e.id+": "+runbookOr(s.Blocked, "the precondition failed")))
		}
		body := []string{}
		if len(s.Apply) > 0 {
			body = append(body, fn+"_apply")
		}
		if s.Wait != nil {
			body = append(body, fmt.Sprintf("ks_wait_until %s %s %s %s_wait", script.Seconds(s.Wait.Timeout), script.Seconds(s.Wait.Interval), script.Quote(s.Wait.What), fn))
		}
		if len(body) == 0 {
			continue
		}
		if s.Done != "" {
			p("if %s_done; then", fn)
			p("  ks_log '    already done'")
			p("else")
			for _, l := range body {
				p("  %s", l)
			}
			p("fi")
		} else {
			for _, l := range body {
				p("%s", l)
			}
		}
	}
	p("")
	p("ks_log 'Runbook finished.'")
	return []byte(b.String())
}

func runbookOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func runbookMarkdown(entries []runbookEntry, o RunbookOptions) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	code := func(s string) {
		p("```bash")
		p("%s", strings.TrimRight(s, "\n"))
		p("```")
		p("")
	}
	p("# Runbook: %s, cluster %s", runbookTitle(o), o.Settings.Cluster)
	p("")
	if o.Source != "" {
		p("Generated from %s.", o.Source)
		p("")
	}
	p("These are the steps `karpshift %s` runs, with the same checks, commands and waits, for a", runbookTitle(o))
	p("person to review or carry out by hand. Each step says how to tell that it is already done;")
	p("skip it then. Stop at every phase boundary and confirm before going on. The commands use")
	p("the shell helpers (`ks_*`) listed at the end, and these settings:")
	p("")
	code(strings.Join(o.Settings.Variables(), "\n"))
	p("Take the lock first (`ks_lock`): `karpshift` uses the same Lease (`%s/%s`) and journal", o.Settings.StateNamespace, o.Settings.LeaseName)
	p("(ConfigMap `%s/%s`).", o.Settings.StateNamespace, o.Settings.StateName)
	p("")
	phaseN := 0
	for _, e := range entries {
		if e.first && e.phase != "" {
			phaseN++
			p("## Phase %d: %s", phaseN, e.phase)
			p("")
			p("Confirm before starting this phase.")
			p("")
		}
		p("### %d. `%s`", e.n, e.id)
		p("")
		p("%s.", strings.TrimSuffix(e.desc, "."))
		p("")
		s := e.scr
		for _, n := range s.Notes {
			p("> %s", n)
			p("")
		}
		if !e.hasScript || s.Require == "" && s.Done == "" && len(s.Apply) == 0 && s.Wait == nil {
			p("Checked by `karpshift` only.")
			p("")
			continue
		}
		if s.Require != "" {
			p("**Must hold** (otherwise stop: %s):", runbookOr(s.Blocked, "the precondition failed"))
			p("")
			code(s.Require)
		}
		if s.Done != "" {
			p("**Already done when:**")
			p("")
			code(s.Done)
		}
		if len(s.Apply) > 0 {
			p("**Commands:**")
			p("")
			code(strings.Join(s.Apply, "\n"))
		}
		if s.Wait != nil {
			p("**Wait** up to %s (checking every %s) for %s:", s.Wait.Timeout, s.Wait.Interval, s.Wait.What)
			p("")
			code(s.Wait.Until)
		}
	}
	p("## Shell helpers")
	p("")
	p("Define these first (they expect `set -euo pipefail` and the settings above).")
	p("")
	code(script.Prelude())
	return []byte(b.String())
}
