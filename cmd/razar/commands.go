package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/statuspage"
	"github.com/razar/razar/supervisor"
)

// agent runs one rung as its own process.
func (c *cli) agent(ctx context.Context, args []string) error {
	fs := c.newFlags("agent")
	natsURL := fs.String("nats", "", "NATS `URL` (default $RAZAR_NATS_URL, else state/nats.url)")
	workers := fs.Int("workers", 2, "attempts this process works at once")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("usage: razar agent <name>")
	}
	name := strings.ToLower(pos[0])
	roster, err := razar.LoadRoster(c.path(rosterFile))
	if err != nil {
		return err
	}
	e, err := roster.Agent(name)
	if err != nil {
		return usageErr("agent %q is not in %s (fix: add it to the roster, or pick one of %s)", name, c.path(rosterFile), agentNames(roster))
	}
	if e.Human() {
		return usageErr("agent %q is a human rung (backend human): no process runs it; RAZAR pages on its turn, and `razar ack|resolve|pass <component>` answers", name)
	}
	log, closeLog, err := c.daemonLogger("agent-" + name)
	if err != nil {
		return err
	}
	defer closeLog()
	nc, err := c.connectAs(ctx, *natsURL, "razar-agent-"+name, name, log, bus.WithInboxPrefix(auth.InboxPrefix(name)))
	if err != nil {
		return err
	}
	defer bus.Drain(nc, 5*time.Second)
	store, err := jetstream.BindStream(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}
	if *workers < 1 {
		return usageErr("--workers must be 1 or more")
	}
	rt, err := c.newRung(store, name, log, *workers)
	if err != nil {
		return err
	}
	log.Info().Str("agent", name).Str("url", nc.ConnectedURL()).Msg("rung is up")
	return rt.Run(ctx)
}

func agentNames(r *razar.Roster) string {
	var n []string
	for _, a := range r.Agents {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}

// escalate opens an incident through the running orchestrator and prints
// each step of it as it happens.
func (c *cli) escalate(ctx context.Context, args []string) error {
	fs := c.newFlags("escalate")
	errText := fs.String("error", "", "the failure to repair, as `TEXT` such as a log line (required)")
	natsURL := fs.String("nats", "", "NATS `URL` (default $RAZAR_NATS_URL, else state/nats.url)")
	asJSON := fs.Bool("json", false, "print each audit record as a JSON line")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *errText == "" {
		return usageErr("usage: razar escalate <component> --error TEXT")
	}
	component := pos[0]
	if err := c.checkComponent(component); err != nil {
		return err
	}
	// Every reader of the bus sees the request: no key leaves in it.
	text := c.redactor().Redact(*errText)
	if text != *errText {
		fmt.Fprintln(c.stderr, "razar: the error text held secrets; they are sent as "+razar.Redacted)
	}
	log := c.cliLogger()
	nc, err := c.connect(ctx, *natsURL, "razar-escalate", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}
	var incident string
	rec, err := store.FollowIncident(ctx, component, func(ctx context.Context) (string, error) {
		rep, err := bus.Command(ctx, nc, bus.VerbEscalate, component, &bus.LifecycleRequest{Error: text, Actor: c.actor()})
		if err != nil {
			return "", replyErr(component, rep, err)
		}
		fmt.Fprintf(c.stdout, "%s: %s %s\n", component, rep.Message, rep.Incident)
		incident = rep.Incident
		return rep.Incident, nil
	}, func(r *bus.AuditRecord) { c.printRecord(r, *asJSON) })
	switch {
	case err != nil && incident != "" && ctx.Err() != nil:
		return failed("interrupted; the incident goes on (follow it with `razar audit --incident %s`)", incident)
	case err != nil:
		return err
	case rec.State == razar.IncidentHealed:
		return nil
	}
	return failed("incident %s %s: %s", incident, rec.State, rec.Reason)
}

// printRecord prints one audit record as a line an operator can read.
func (c *cli) printRecord(r *bus.AuditRecord, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(c.stdout, string(b))
		return
	}
	ts := r.TimestampISO
	if t, err := time.Parse(time.RFC3339Nano, r.TimestampISO); err == nil {
		// Today's records by the clock; older ones with their date, so a
		// timeline over days (--since 2d) reads right.
		ts = t.Local().Format("15:04:05")
		if y, m, d := t.Local().Date(); time.Now().Year() != y || time.Now().Month() != m || time.Now().Day() != d {
			ts = t.Local().Format("01-02 15:04:05")
		}
	}
	who := r.AgentDisplay
	if who == "" {
		who = r.Agent
	}
	var line string
	switch r.Event {
	case bus.EventOpened:
		line = fmt.Sprintf("opened %s: %s", r.Incident, firstLine(r.Error))
	case bus.EventEscalation:
		line = fmt.Sprintf("escalation %d: %s → %s (attempt %d, pass %d)", r.Escalations, r.From, who, r.Attempt, r.Pass)
	case bus.EventSkipped:
		line = fmt.Sprintf("skipped %s: %s", who, r.Error)
	case bus.EventAttempt:
		line = fmt.Sprintf("attempt %d by %s: %s", r.Attempt, who, r.Outcome)
		if r.Summary != "" {
			line += ": " + firstLine(r.Summary)
		}
		if r.Error != "" {
			line += " (" + firstLine(r.Error) + ")"
		}
		if r.Reason != "" {
			line += " [" + firstLine(r.Reason) + "]"
		}
	case bus.EventHealed:
		line = fmt.Sprintf("HEALED by %s after %d failed attempts, %d escalations", who, r.Failed, r.Escalations)
	case bus.EventFailed:
		line = fmt.Sprintf("FAILED after %d failed attempts, %d escalations: %s", r.Failed, r.Escalations, r.Reason)
	case bus.EventAborted:
		line = "ABORTED: " + r.Reason
	case bus.EventAlert:
		line = fmt.Sprintf("ALERT %s: %s", r.Severity, r.Message)
		if r.Status == "resolved" {
			line = fmt.Sprintf("alert resolved (%s)", r.Reason)
		}
	case bus.EventLifecycle:
		line = fmt.Sprintf("%s by %s: %s", r.Verb, r.Actor, r.Status)
		if r.PatchID != "" {
			line += " patch " + r.PatchID
		}
		if r.Error != "" {
			line += ": " + firstLine(r.Error)
		}
	case bus.EventPatch:
		line = fmt.Sprintf("patch %s from %s: validation %s", r.PatchID, who, r.Validation)
		if r.Summary != "" {
			line += ": " + firstLine(r.Summary)
		}
		if n := len(r.Placement); n > 0 {
			line += fmt.Sprintf(" (placed: %s", firstLine(r.Placement[0]))
			if n > 1 {
				line += fmt.Sprintf("; %d more notes", n-1)
			}
			line += ")"
		}
	case bus.EventPending:
		line = fmt.Sprintf("patch %s from %s waits for approval: razar approve %s %s", r.PatchID, who, r.Component, r.PatchID)
	case bus.EventApplied:
		line = fmt.Sprintf("patch %s from %s applied (%d file(s))", r.PatchID, who, len(r.Files))
		if r.Summary != "" {
			line += ": " + firstLine(r.Summary)
		}
	case bus.EventRejected:
		line = fmt.Sprintf("patch %s from %s rejected: %s", r.PatchID, who, firstLine(r.Reason))
	case bus.EventReverted:
		line = fmt.Sprintf("patch %s reverted: %s", r.PatchID, firstLine(r.Reason))
		if r.Actor != "" {
			line += " (by " + r.Actor + ")"
		}
	case bus.EventRotation:
		line = fmt.Sprintf("credentials rotated by %s: %s", r.Actor, firstLine(r.Message))
	case bus.EventShown:
		paths := make([]string, 0, len(r.Shown))
		for _, f := range r.Shown {
			paths = append(paths, f.Path)
		}
		line = fmt.Sprintf("shown to %s (attempt %d): %d file(s), %d bytes", who, r.Attempt, len(r.Shown), r.Bytes)
		if len(paths) > 0 {
			line += ": " + strings.Join(paths, ", ")
		}
	case bus.EventContext:
		line = fmt.Sprintf("tool call by %s (attempt %d): %s %s: %s, %d bytes", who, r.Attempt, r.Op, r.Path, r.Verdict, r.Bytes)
	default:
		line = strings.TrimSpace(fmt.Sprintf("%s %s %s", r.Event, r.Status, firstLine(r.Message)))
		if r.Reason != "" {
			line += ": " + firstLine(r.Reason)
		}
	}
	// Every field but the time may come from a rung or a component.
	fmt.Fprintf(c.stdout, "%s %-14s %s\n", sanitize(ts), sanitize(r.Component), sanitize(line))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lifecycle sends one lifecycle verb about one component (approve and
// reject: and one patch) and prints the orchestrator's confirmation.
func (c *cli) lifecycle(ctx context.Context, verb bus.Verb, args []string) error {
	fs := c.newFlags(string(verb))
	natsURL := fs.String("nats", "", "NATS `URL`")
	var summary *string
	if verb == bus.VerbAck || verb == bus.VerbResolve || verb == bus.VerbPass {
		summary = fs.String("summary", "", "a note for the record (resolve: what was done by hand)")
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	req := &bus.LifecycleRequest{Actor: c.actor()}
	if summary != nil {
		req.Summary = *summary
	}
	component := ""
	switch {
	case (verb == bus.VerbApprove || verb == bus.VerbReject) && len(pos) == 2 && pos[0] == "rotation" && strings.HasPrefix(pos[1], rotationPrefix):
		// razar approve|reject rotation <rot-id>: a credential rotation.
		req.Patch, component = pos[1], bus.AllComponents
		verb = map[bus.Verb]bus.Verb{bus.VerbApprove: bus.VerbApproveRotation, bus.VerbReject: bus.VerbRejectRotation}[verb]
	case verb == bus.VerbApprove || verb == bus.VerbReject:
		if len(pos) != 2 {
			return usageErr("usage: razar %s <component> <patch-id>, or razar %s rotation <rotation-id>", verb, verb)
		}
		req.Patch = pos[1]
	case len(pos) != 1:
		return usageErr("usage: razar %s <component>", verb)
	}
	if component == "" {
		component = pos[0]
		if err := c.checkComponent(component); err != nil {
			return err
		}
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		if verb == bus.VerbRelease && c.notRunning(err) {
			return c.releaseOffline(pos[0])
		}
		return err
	}
	defer nc.Close()
	// start and restart wait for the component's start grace and probe.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := c.command(cctx, nc, verb, component, req)
	if verb == bus.VerbRelease && errors.Is(err, bus.ErrNotRunning) {
		return c.releaseOffline(pos[0])
	}
	if err != nil {
		return replyErr(component, rep, err)
	}
	msg := rep.Message
	if rep.Incident != "" {
		msg += " " + rep.Incident
	}
	if component == bus.AllComponents {
		fmt.Fprintln(c.stdout, sanitize(msg))
		return nil
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", rep.Component, msg)
	return nil
}

// status prints the orchestrator's view of incidents and rungs, and exits
// 1 while the mission is halted or a component is quarantined or failed
// (statusVerdict).
func (c *cli) status(ctx context.Context, args []string) error {
	fs := c.newFlags("status")
	natsURL := fs.String("nats", "", "NATS `URL`")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr("usage: razar status [<component>] [--json]")
	}
	component := bus.AllComponents
	if len(pos) == 1 {
		component = pos[0]
		if err := c.checkComponent(component); err != nil {
			return err
		}
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		return c.lastState(component, *asJSON, err)
	}
	defer nc.Close()
	rep, err := bus.Command(ctx, nc, bus.VerbStatus, component, nil)
	if err != nil {
		if errors.Is(err, bus.ErrNotRunning) {
			return c.lastState(component, *asJSON, failed("%v", err))
		}
		return replyErr(component, rep, err)
	}
	var view bus.StatusView
	if err := json.Unmarshal(rep.Data, &view); err != nil {
		if *asJSON {
			fmt.Fprintln(c.stdout, string(rep.Data))
		}
		return failed("status reply: %v", err)
	}
	if *asJSON {
		fmt.Fprintln(c.stdout, string(rep.Data))
		return statusVerdict(view.Mission, component)
	}
	if view.Mission != nil {
		host := view.Mission.Host
		if host == "" && view.Host != nil {
			host = view.Host.Name
		}
		c.printMission(view.Mission, host, true)
		if view.Mission.Store != "" {
			fmt.Fprintf(c.stdout, "record store: %s\n", sanitize(view.Mission.Store))
		}
		c.printComponents(view.Mission.Components)
		fmt.Fprintln(c.stdout)
	}
	if len(view.Approvals) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WAITING FOR APPROVAL\tRUNG\tUNTIL\tRUN")
		for _, p := range view.Approvals {
			fmt.Fprintf(tw, "%s %s\t%s\t%s\trazar approve %s %s (or reject)\n", sanitize(p.Component), sanitize(p.Patch), sanitize(p.Rung),
				p.Until.Local().Format(time.DateTime), sanitize(p.Component), sanitize(p.Patch))
		}
		tw.Flush()
		fmt.Fprintln(c.stdout)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tSTATE\tDETAIL")
	for _, a := range view.Agents {
		state := "ready"
		if !a.Ready {
			state = "unavailable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", sanitize(a.Name), state, sanitize(firstLine(a.Reason)))
	}
	tw.Flush()
	fmt.Fprintln(c.stdout)
	tw = tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tCOMPONENT\tSTATE\tATTEMPTS\tRUNG\tOPENED\tREASON")
	sort.Slice(view.Incidents, func(i, j int) bool { return view.Incidents[i].Opened.After(view.Incidents[j].Opened) })
	for i, r := range view.Incidents {
		if i >= 20 {
			fmt.Fprintf(tw, "… %d more\n", len(view.Incidents)-20)
			break
		}
		rung := r.LastRung
		switch {
		case r.Pending != nil:
			rung = r.Pending.Rung + " (working)"
		case r.State == razar.IncidentOpen && r.LastRung != "":
			rung = "between attempts (last: " + r.LastRung + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", sanitize(r.ID), sanitize(r.Component), sanitize(string(r.State)), r.Earlier+len(r.Attempts), sanitize(rung), r.Opened.Local().Format(time.DateTime), sanitize(firstLine(r.Reason)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return statusVerdict(view.Mission, component)
}

// printMission prints the mission's health, whose it is, why it is not
// healthy and, while it is halted, the operator's next step (running: RAZAR
// answers; else the next step is a new `razar boot`).
func (c *cli) printMission(m *bus.MissionState, host string, running bool) {
	line := "mission: " + m.Health
	if host != "" {
		line += " (host " + host + ")"
	}
	fmt.Fprintln(c.stdout, sanitize(line))
	for _, p := range m.Problems {
		fmt.Fprintln(c.stdout, "  down: "+sanitize(p))
	}
	if m.Health == bus.HealthHalted {
		next := m.Next
		if !running {
			next = "release what is quarantined (`razar release <component>`), then `razar boot` starts a new cycle"
		}
		fmt.Fprintf(c.stdout, "boot cycle %s halted; next: %s\n", sanitize(m.Halted), sanitize(next))
	}
	fmt.Fprintln(c.stdout)
}

// printComponents prints one line per component.
func (c *cli) printComponents(comps []bus.ComponentView) {
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATUS\tPID\tRESTARTS\tLAST EXIT\tINCIDENT\tDETAIL")
	for _, v := range comps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sanitize(v.Name), sanitize(componentState(v)), pidText(v), restartsText(v),
			sanitize(orDash(v.LastExit)), sanitize(orDash(v.Incident)), sanitize(firstLine(v.LastError)))
	}
	tw.Flush()
}

// componentState is a component's status as an operator reads it: who
// holds it, which rung works on it, when it restarts next.
func componentState(v bus.ComponentView) string {
	s := v.Status
	switch {
	case v.Held:
		s += " (by an operator)"
	case v.Rung != "":
		s += " (" + v.Rung + ")"
	case v.Status == bus.StatusEscalated && !v.NextAttempt.IsZero():
		s += fmt.Sprintf(" (next attempt in %s, at %s)", max(0, time.Until(v.NextAttempt)).Round(time.Second).String(), v.NextAttempt.Local().Format(time.TimeOnly))
	case v.Status == bus.StatusEscalated:
		s += " (between attempts)"
	case v.Status == bus.StatusRestarting && !v.NextRestart.IsZero():
		s += fmt.Sprintf(" (in %s, at %s)", time.Until(v.NextRestart).Round(time.Second).String(), v.NextRestart.Local().Format(time.TimeOnly))
	case v.Status == bus.StatusWaiting:
		s += " (for its boot-order turn)"
	}
	return s
}

func pidText(v bus.ComponentView) string {
	switch {
	case v.PID <= 0:
		return "-"
	case v.Adopted:
		return fmt.Sprintf("%d (adopted)", v.PID)
	}
	return fmt.Sprint(v.PID)
}

// restartsText is the restart count, and the crash loop's share of the
// --retries budget while one is going on.
func restartsText(v bus.ComponentView) string {
	if v.Crashes > 0 && v.Status != bus.StatusHealthy {
		return fmt.Sprintf("%d (loop: %d)", v.Restarts, v.Crashes)
	}
	return fmt.Sprint(v.Restarts)
}

// sanitize makes text from a component or a rung safe to print on the
// operator's terminal: tabs and line breaks become spaces, so it stays on
// its line and in its column; every other control character (escape
// sequences, carriage returns, C1 controls) and the bidirectional
// overrides that reorder what is shown are dropped; invalid UTF-8 shows as
// U+FFFD.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\u2028' || r == '\u2029':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		case (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c':
			return -1
		}
		return r
	}, s)
}

// lastState prints logs/razar_state.json when RAZAR does not answer, and
// returns why it could not ask, with what that state says (still exit 1).
func (c *cli) lastState(component string, asJSON bool, why error) error {
	data, err := os.ReadFile(c.path(supervisor.StateFile))
	if err != nil {
		return why
	}
	var st bus.MissionState
	if json.Unmarshal(data, &st) != nil {
		return why
	}
	if asJSON {
		fmt.Fprintln(c.stdout, strings.TrimSpace(string(data)))
		return notRunningVerdict(why, &st, component)
	}
	fmt.Fprintf(c.stdout, "RAZAR is not answering; last recorded state (%s, updated %s):\n\n", supervisor.StateFile, st.Updated.Local().Format(time.DateTime))
	c.printMission(&st, st.Host, false)
	var comps []bus.ComponentView
	for _, v := range st.Components {
		if component == bus.AllComponents || v.Name == component {
			comps = append(comps, v)
		}
	}
	c.printComponents(comps)
	return notRunningVerdict(why, &st, component)
}

// audit replays the audit trail from the stream; --incident shows one
// incident attempt by attempt (statuspage.WriteText).
func (c *cli) audit(ctx context.Context, args []string) error {
	fs := c.newFlags("audit")
	natsURL := fs.String("nats", "", "NATS `URL`")
	since := fs.String("since", "", "only records newer than this: a duration (1h, 2d) or RFC 3339 time")
	component := fs.String("component", "", "only this component's records")
	incident := fs.String("incident", "", "this incident: each attempt with what its rung saw and did (with --json, its raw records)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("audit takes no arguments; use --component or --incident")
	}
	var from time.Time
	if *since != "" {
		if d, err := parseAge(*since); err == nil && d > 0 {
			from = time.Now().Add(-d) // 1h, 90m, 2d
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			from = t
		} else {
			return usageErr("--since %q: use a duration such as 1h or 2d, or an RFC 3339 time", *since)
		}
	}
	if *incident != "" && !bus.ValidToken(*incident) {
		return usageErr("--incident %q: not an incident id (they look like inc-20260102-150405-a1b2c3)", *incident)
	}
	filter := bus.AuditAll
	if *component != "" {
		if err := razar.ValidName(*component); err != nil && *component != bus.SystemComponent {
			return usageErr("--component: %v (RAZAR's own records: --component %s)", err, bus.SystemComponent)
		}
		filter = bus.AuditComponent(*component)
	}
	log := c.cliLogger()
	store, closeStore, err := c.openStore(ctx, *natsURL, "razar-audit")
	if err != nil {
		return err
	}
	defer closeStore()
	if *incident != "" && !*asJSON {
		// One incident, read as a whole: each attempt with what its rung
		// saw and did (--json keeps the raw records).
		inc, err := statuspage.Load(ctx, store, *incident)
		if errors.Is(err, razar.ErrNotFound) {
			return failed("no audit records for incident %s", *incident)
		}
		if err != nil {
			return failed("%v", err)
		}
		return statuspage.WriteText(c.stdout, inc)
	}
	n := 0
	err = store.Scan(ctx, filter, from, false, func(seq uint64, subject string, data []byte) error {
		var r bus.AuditRecord
		if err := bus.Decode(data, &r); err != nil {
			log.Warn().Err(err).Uint64("seq", seq).Str("subject", subject).Msg("skipping a malformed record")
			return nil
		}
		if *incident != "" && r.Incident != *incident {
			return nil
		}
		r.Seq = seq
		n++
		c.printRecord(&r, *asJSON)
		return nil
	})
	if err != nil {
		return failed("%v", err)
	}
	if n == 0 && *incident != "" {
		return failed("no audit records for incident %s", *incident)
	}
	return nil
}

// openStore connects to the running bus; when RAZAR is not running from
// this home, it serves the home's JetStream store with a private embedded
// server for as long as the command needs it, so the record of truth can be
// read after the fact.
func (c *cli) openStore(ctx context.Context, natsURL, name string) (*jetstream.Store, func(), error) {
	log := c.cliLogger()
	if natsURL == "" && c.getenv("RAZAR_NATS_URL") == "" {
		if _, err := os.Stat(c.path(natsURLFile)); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Stat(filepath.Join(c.path(stateDir), "jetstream")); err == nil {
				unlock, err := jetstream.LockStore(c.path(stateDir))
				if err != nil {
					return nil, nil, failed("%v: RAZAR runs here without state/nats.url; pass --nats URL", err)
				}
				// The private server trusts the home's identities like
				// `razar boot` does: it is on loopback, but not open.
				st, err := c.offlineTrust()
				if err != nil {
					unlock()
					return nil, nil, err
				}
				srv, err := jetstream.StartServer(jetstream.ServerConfig{StoreDir: c.path(stateDir), Listen: "127.0.0.1:0", Log: log, Trust: st})
				if err != nil {
					unlock()
					return nil, nil, failed("read the store in %s: %v", c.path(stateDir), err)
				}
				natsURL = srv.ClientURL()
				// RAZAR is stopped: this command holds the store, as its owner.
				nc, err := c.connectAs(ctx, natsURL, name, string(auth.Orchestrator), log)
				if err != nil {
					srv.Shutdown()
					unlock()
					return nil, nil, err
				}
				store, err := jetstream.Bind(ctx, nc)
				if err != nil {
					nc.Close()
					srv.Shutdown()
					unlock()
					return nil, nil, failed("%v", err)
				}
				return store, func() { nc.Close(); srv.Shutdown(); unlock() }, nil
			}
		}
	}
	nc, err := c.connect(ctx, natsURL, name, log)
	if err != nil {
		return nil, nil, err
	}
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, failed("%v", err)
	}
	return store, nc.Close, nil
}

// notRunning reports whether err says no RAZAR runs in the home.
func (c *cli) notRunning(err error) bool {
	_, statErr := os.Stat(c.path(natsURLFile))
	return errors.Is(statErr, os.ErrNotExist) || errors.Is(err, bus.ErrNotRunning)
}

// releaseOffline lifts a quarantine with RAZAR stopped, so the advice a
// halted `razar boot --once` leaves works as it says.
func (c *cli) releaseOffline(name string) error {
	if err := supervisor.ReleaseOffline(c.home, name); err != nil {
		if errors.Is(err, razar.ErrNotFound) {
			return failed("%v", err)
		}
		return failed("release %s: %v", name, err)
	}
	fmt.Fprintf(c.stdout, "%s: quarantine lifted (RAZAR is not running; the next `razar boot` starts it)\n", name)
	return nil
}

// reload asks the running RAZAR to re-read config/ and config/razar.env.
func (c *cli) reload(ctx context.Context, args []string) error {
	return c.daemonVerbWith(ctx, "reload", bus.VerbReload, args, func(fs *flagSet) func() error {
		strict := fs.Bool("strict", false, "refuse to send the reload (exit 2) when config/razar.env sets a variable RAZAR does not read or RAZAR_ESCALATION_WARNING_THRESHOLD=0 (a RAZAR booted with --strict refuses such a reload itself)")
		return func() error {
			if !*strict {
				return nil
			}
			if err := c.envFileErr(); err != nil {
				return err
			}
			s := &settings{}
			if err := c.readVariables(s); err != nil {
				return err
			}
			return strictErr(c.configWarnings(s))
		}
	})
}

const resumeHelp = `After a halt (Boot sequence halted; configuration rolled back to safe
defaults), fix the component the halt names, release it with
` + "`razar release <component>`" + `, then ` + "`razar resume`" + `: the halted boot cycle goes on
from where it stopped, bringing up in priority order every component the
halt left down; what runs or an operator stopped is left alone. It refuses
while a component is still quarantined. The cycle runs in RAZAR: follow it
with ` + "`razar status`" + `; the halt's alert resolves when it completes.
With RAZAR stopped (a halted ` + "`razar boot --once`" + ` has exited), release, then
` + "`razar boot`" + ` starts a new cycle.
`

// resume asks the running RAZAR to take its halted boot cycle on.
func (c *cli) resume(ctx context.Context, args []string) error {
	err := c.daemonVerb(ctx, "resume", bus.VerbResume, args)
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && (ee.code == 2 || isHelp(err))) && c.notRunning(err) {
		return failed("%v (RAZAR is not running, so no halted cycle waits: `razar boot` starts a new one)", err)
	}
	return err
}

// detach asks the running RAZAR to exit and leave the components running.
func (c *cli) detach(ctx context.Context, args []string) error {
	return c.daemonVerb(ctx, "detach", bus.VerbDetach, args)
}

// daemonVerb sends a verb about RAZAR itself and prints its answer.
func (c *cli) daemonVerb(ctx context.Context, name string, verb bus.Verb, args []string) error {
	return c.daemonVerbWith(ctx, name, verb, args, nil)
}

// daemonVerbWith is daemonVerb with more flags: more defines them and
// returns a check run once they are parsed, before anything is sent.
func (c *cli) daemonVerbWith(ctx context.Context, name string, verb bus.Verb, args []string, more func(*flagSet) func() error) error {
	fs := c.newFlags(name)
	natsURL := fs.String("nats", "", "NATS `URL`")
	var check func() error
	if more != nil {
		check = more(fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("%s takes no arguments, got %q", name, pos[0])
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := bus.Command(cctx, nc, verb, bus.AllComponents, &bus.LifecycleRequest{Actor: c.actor()})
	if err != nil {
		return replyErr(bus.AllComponents, rep, err)
	}
	fmt.Fprintln(c.stdout, rep.Message)
	return nil
}
