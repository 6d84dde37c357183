package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Variables is the one list of the RAZAR_ settings RAZAR reads from the
// environment and config/razar.env. A name in config/razar.env that is
// neither here nor a credential or endpoint variable of a rung (see
// ctl.KnownVariables) is a typo or a leftover: RAZAR ignores it and says so.
// TestEveryVariableTheCodeReadsIsKnown fails when code reads a RAZAR_
// variable this list lacks.
var Variables = []string{
	"RAZAR_ALERTMANAGER_URL",
	"RAZAR_ALERT_WEBHOOK",
	"RAZAR_APPROVAL_WINDOW",
	"RAZAR_CHAKRA_ADDR",
	"RAZAR_CHAKRA_PORT",
	"RAZAR_CONTEXT_BYTES",
	"RAZAR_CONTEXT_CALLS",
	"RAZAR_CREDS",
	"RAZAR_ESCALATION_WARNING_THRESHOLD",
	"RAZAR_EXPORTERS",
	"RAZAR_FIX_MEMORY",
	"RAZAR_FIX_MEMORY_NEW_FILES",
	"RAZAR_HEALTH_PROBE_INTERVAL",
	"RAZAR_HOME",
	"RAZAR_HOST", // alerts' host label (issue 20 item 4)
	"RAZAR_INCIDENT_RETENTION",
	"RAZAR_LEAF_CREDS",
	"RAZAR_LEAF_DOMAIN",
	"RAZAR_LEAF_HUB_DOMAIN",
	"RAZAR_LEAF_URL",
	"RAZAR_LOG_LEVEL",
	"RAZAR_LOG_MAX_BYTES",
	"RAZAR_METRICS_ADDR",
	"RAZAR_METRICS_PORT",
	"RAZAR_NATS_URL",
	"RAZAR_PPROF",
	"RAZAR_REPLICAS",
	"RAZAR_RESULTS_MAX_BYTES",
	"RAZAR_RSTAR_THRESHOLD",
	"RAZAR_RUNBOOK_URL",
	"RAZAR_SANDBOX",
	"RAZAR_SANDBOX_READONLY",
	"RAZAR_SANDBOX_UID",
	"RAZAR_SETTLE_WINDOW",
	"RAZAR_STATE_MAX_BYTES",
	"RAZAR_STATE_MAX_VALUE_SIZE",
	"RAZAR_STATUS_HOSTS",
	"RAZAR_STATUS_URL",
	"RAZAR_STREAM_MAX_AGE",
	"RAZAR_STREAM_MAX_BYTES",
	"RAZAR_STREAM_MAX_MSG_SIZE",
	"RAZAR_TOKEN_BUDGET",
	"RAZAR_VERIFY_WINDOW",
}

// UnknownVariableWarnings names each variable config/razar.env (env)
// sets that is not known, with the known one nearest to it: a typo
// (RAZAR_RSTAR_TRESHOLD) would otherwise leave the default in force
// without a word. Values are never quoted: the file holds secrets.
func UnknownVariableWarnings(env map[string]string, known map[string]bool) []string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for name := range env {
		if known[name] {
			continue
		}
		msg := fmt.Sprintf("config/razar.env sets %s, which RAZAR does not read: it is ignored", name)
		if near := NearestName(name, names); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		} else if strings.HasPrefix(name, "RAZAR_") {
			msg += fmt.Sprintf("; the nearest variable RAZAR reads is %s (the settings are listed in README.md)", nearestOf(name, Variables))
		} else {
			msg += " (the settings are listed in README.md; remove the line if it is not one)"
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

// nearestOf is the name in names closest to typed by edit distance.
func nearestOf(typed string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := EditDistance(typed, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// NearestName is the name in names closest to typed by edit distance,
// letter case aside, or "" when none is close enough to be what was
// meant: within three edits and a third of its length.
func NearestName(typed string, names []string) string {
	upper := make([]string, len(names))
	for i, n := range names {
		upper[i] = strings.ToUpper(n)
	}
	best := nearestOf(strings.ToUpper(typed), upper)
	if best == "" {
		return ""
	}
	if d := EditDistance(strings.ToUpper(typed), best); d > 3 || d*3 > len(typed) {
		return ""
	}
	return names[slices.Index(upper, best)]
}

// EditDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost 1.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
