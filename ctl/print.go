package ctl

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
)

// PrintRecord prints one audit record as a line an operator can read, or
// as a JSON line.
func (c *Client) PrintRecord(r *bus.AuditRecord, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(c.Stdout, string(b))
		return
	}
	// Every field but the time may come from a rung or a component.
	fmt.Fprintf(c.Stdout, "%s %-14s %s\n", cut.Sanitize(recordTime(r.TimestampISO)), cut.Sanitize(r.Component), cut.Sanitize(recordLine(r)))
}

// recordTime is a record's time as a timeline shows it: today's by the
// clock; older ones with their date, so a timeline over days (--since 2d)
// reads right.
func recordTime(iso string) string {
	t, err := time.Parse(time.RFC3339Nano, iso)
	if err != nil {
		return iso
	}
	if y, m, d := t.Local().Date(); time.Now().Year() != y || time.Now().Month() != m || time.Now().Day() != d {
		return t.Local().Format("01-02 15:04:05")
	}
	return t.Local().Format("15:04:05")
}

// who is the rung a record names, by its display name.
func who(r *bus.AuditRecord) string {
	if r.AgentDisplay != "" {
		return r.AgentDisplay
	}
	return r.Agent
}

// recordLine is what a record says, after its time and component.
func recordLine(r *bus.AuditRecord) string {
	switch r.Event {
	case bus.EventOpened:
		return fmt.Sprintf("opened %s: %s", r.Incident, cut.FirstLine(r.Error))
	case bus.EventEscalation:
		return fmt.Sprintf("escalation %d: %s → %s (attempt %d, pass %d)", r.Escalations, r.From, who(r), r.Attempt, r.Pass)
	case bus.EventSkipped:
		return fmt.Sprintf("skipped %s: %s", who(r), r.Error)
	case bus.EventAttempt:
		return attemptLine(r)
	case bus.EventHealed:
		return fmt.Sprintf("HEALED by %s after %d failed attempts, %d escalations", who(r), r.Failed, r.Escalations)
	case bus.EventFailed:
		return fmt.Sprintf("FAILED after %d failed attempts, %d escalations: %s", r.Failed, r.Escalations, r.Reason)
	case bus.EventAborted:
		return "ABORTED: " + r.Reason
	case bus.EventAlert:
		if r.Status == "resolved" {
			return fmt.Sprintf("alert resolved (%s)", r.Reason)
		}
		return fmt.Sprintf("ALERT %s: %s", r.Severity, r.Message)
	case bus.EventLifecycle:
		return lifecycleLine(r)
	case bus.EventRotation:
		return fmt.Sprintf("credentials rotated by %s: %s", r.Actor, cut.FirstLine(r.Message))
	case bus.EventShown:
		return shownLine(r)
	case bus.EventContext:
		return fmt.Sprintf("tool call by %s (attempt %d): %s %s: %s, %d bytes", who(r), r.Attempt, r.Op, r.Path, r.Verdict, r.Bytes)
	}
	if line, ok := patchLine(r); ok {
		return line
	}
	line := strings.TrimSpace(fmt.Sprintf("%s %s %s", r.Event, r.Status, cut.FirstLine(r.Message)))
	if r.Reason != "" {
		line += ": " + cut.FirstLine(r.Reason)
	}
	return line
}

func attemptLine(r *bus.AuditRecord) string {
	line := fmt.Sprintf("attempt %d by %s: %s", r.Attempt, who(r), r.Outcome)
	if r.Summary != "" {
		line += ": " + cut.FirstLine(r.Summary)
	}
	if r.Error != "" {
		line += " (" + cut.FirstLine(r.Error) + ")"
	}
	if r.Reason != "" {
		line += " [" + cut.FirstLine(r.Reason) + "]"
	}
	return line
}

func lifecycleLine(r *bus.AuditRecord) string {
	line := fmt.Sprintf("%s by %s: %s", r.Verb, r.Actor, r.Status)
	if r.PatchID != "" {
		line += " patch " + r.PatchID
	}
	if r.Error != "" {
		line += ": " + cut.FirstLine(r.Error)
	}
	return line
}

func shownLine(r *bus.AuditRecord) string {
	paths := make([]string, 0, len(r.Shown))
	for _, f := range r.Shown {
		paths = append(paths, f.Path)
	}
	line := fmt.Sprintf("shown to %s (attempt %d): %d file(s), %d bytes", who(r), r.Attempt, len(r.Shown), r.Bytes)
	if len(paths) > 0 {
		line += ": " + strings.Join(paths, ", ")
	}
	return line
}

// patchLine is the line of a patch's record: proposed, waiting, applied,
// rejected, reverted.
func patchLine(r *bus.AuditRecord) (string, bool) {
	switch r.Event {
	case bus.EventPatch:
		line := fmt.Sprintf("patch %s from %s: validation %s", r.PatchID, who(r), r.Validation)
		if r.Summary != "" {
			line += ": " + cut.FirstLine(r.Summary)
		}
		if n := len(r.Placement); n > 0 {
			line += fmt.Sprintf(" (placed: %s", cut.FirstLine(r.Placement[0]))
			if n > 1 {
				line += fmt.Sprintf("; %d more notes", n-1)
			}
			line += ")"
		}
		return line, true
	case bus.EventPending:
		return fmt.Sprintf("patch %s from %s waits for approval: razar approve %s %s", r.PatchID, who(r), r.Component, r.PatchID), true
	case bus.EventApplied:
		line := fmt.Sprintf("patch %s from %s applied (%d file(s))", r.PatchID, who(r), len(r.Files))
		if r.Summary != "" {
			line += ": " + cut.FirstLine(r.Summary)
		}
		return line, true
	case bus.EventRejected:
		return fmt.Sprintf("patch %s from %s rejected: %s", r.PatchID, who(r), cut.FirstLine(r.Reason)), true
	case bus.EventReverted:
		line := fmt.Sprintf("patch %s reverted: %s", r.PatchID, cut.FirstLine(r.Reason))
		if r.Actor != "" {
			line += " (by " + r.Actor + ")"
		}
		return line, true
	}
	return "", false
}
