package statuspage

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
)

// Source is where an incident's view is read from: the incident's stored
// record and the audit stream (jetstream.Store).
type Source interface {
	// Incident loads one incident, or an error wrapping razar.ErrNotFound.
	Incident(ctx context.Context, id string) (*bus.IncidentRecord, uint64, error)
	// Scan delivers the stored messages on filter, oldest first, from since.
	Scan(ctx context.Context, filter string, since time.Time, follow bool, fn func(seq uint64, subject string, data []byte) error) error
}

// Bounds of one view, so that a page stays fast however long an incident
// ran: at most MaxRecords of its records are kept and at most MaxScanned
// messages read; a view cut short says so (Incident.Truncated).
const (
	MaxRecords = 2000
	MaxScanned = 200_000
)

// ErrBadID is an incident id that cannot be one: empty, or with a
// character a subject token may not hold.
var ErrBadID = errors.New("not an incident id")

// Incident is one incident as an operator reads it.
type Incident struct {
	ID        string
	Component string
	// State is open, healed, failed or aborted; Reason why it ended.
	State  string
	Reason string
	Error  string // the failure that opened it
	Opened time.Time
	// Tokens is what the rungs' models spent on it, summed.
	Tokens razar.Usage
	// Pending is the attempt under way, if any.
	Pending *bus.Pending
	// Attempts, oldest first.
	Attempts []*Attempt
	// Events are the incident's records that belong to no attempt:
	// opened, skipped rungs, alerts, operators' commands, the end.
	Events []Event
	// Stored is false when the incident's key has expired from
	// RAZAR_STATE: the view is built from its records alone.
	Stored bool
	// Truncated says the view was cut at MaxRecords or MaxScanned.
	Truncated bool
}

// Attempt is one rung's attempt at the incident, and what it saw and did.
type Attempt struct {
	Number  int
	Pass    int
	Rung    string
	Display string // the rung's display name, or its name
	// From is the rung that handed the incident over to this attempt.
	From    string
	Outcome string // "" while pending
	Summary string
	Error   string
	Reason  string
	Diff    string // the diff the rung answered with
	Usage   *razar.Usage
	Started time.Time
	Ended   time.Time
	// Shown is what the escalation showed the rung (no texts):
	// path, bytes, sha256 and why; ShownBytes their sum.
	Shown      []razar.FileText
	ShownBytes int
	// Calls are the rung's tool calls on razar.context, in order.
	Calls []Call
	// Patches are the candidate diffs RAZAR placed and validated.
	Patches []*Patch
}

// Call is one tool call a rung made.
type Call struct {
	Time    time.Time
	Op      string
	Path    string // the path or glob it named
	Bytes   int    // bytes of text answered
	Verdict string // "ok" or "refused: ..."
	Reason  string // a refusal's text
}

// Patch is one candidate diff of an attempt and what became of it.
type Patch struct {
	ID         string
	Summary    string
	Diff       string
	Validation string // passed, failed, rejected, no validate command
	Reason     string
	// Placement says how each hunk that did not apply as written was
	// placed.
	Placement  []string
	Files      []bus.PatchFile
	OutputTail string
	Note       string // e.g. validation ran with network
	// Steps are what followed: pending, applied, rejected, reverted, each
	// with its reason.
	Steps []Event
}

// Event is one dated line of the view.
type Event struct {
	Time time.Time
	Text string
}

// Load reads incident id's view from src: its stored record and its audit
// records, in one scan of its component's records from a minute before it
// opened (of every record from the time in its id when its key has
// expired), and one of the tool calls RAZAR refused outside any attempt
// (recorded as RAZAR's own). An id that cannot be an incident's is
// ErrBadID. One that neither the store nor the stream knows wraps
// razar.ErrNotFound, as does one the store does not hold whose id has no
// time to start a scan from.
func Load(ctx context.Context, src Source, id string) (*Incident, error) {
	if !bus.ValidToken(id) || len(id) > 128 {
		return nil, fmt.Errorf("%q: %w (incident ids look like inc-20260102-150405-a1b2c3)", cut.Head(id, 64, "…"), ErrBadID)
	}
	rec, _, err := src.Incident(ctx, id)
	switch {
	case errors.Is(err, razar.ErrNotFound):
		rec = nil
	case err != nil:
		return nil, err
	}
	filter, since := bus.AuditAll, idTime(id)
	if rec == nil && since.IsZero() {
		// Not stored, and no time to start a scan from: reading the whole
		// stream for an id RAZAR never made would make a slow page.
		return nil, fmt.Errorf("incident %s: %w: RAZAR_STATE does not hold it, and its id has no time to look for its records from", id, razar.ErrNotFound)
	}
	if rec != nil {
		filter, since = bus.AuditComponent(rec.Component), rec.Opened
	}
	if !since.IsZero() {
		since = since.Add(-time.Minute)
	}
	sc := &scan{id: id}
	if err := sc.run(ctx, src, filter, since); err != nil {
		return nil, err
	}
	if rec != nil && len(sc.recs) > 0 {
		// Calls refused outside any attempt (after its deadline, from
		// another identity) are RAZAR's own records, not the component's.
		if err := sc.run(ctx, src, bus.AuditSubject(bus.SystemComponent, bus.EventContext), since); err != nil {
			return nil, err
		}
		sort.SliceStable(sc.recs, func(i, j int) bool { return stamp(&sc.recs[i]).Before(stamp(&sc.recs[j])) })
	}
	if rec == nil && len(sc.recs) == 0 {
		return nil, fmt.Errorf("incident %s: %w: neither RAZAR_STATE nor the audit stream holds it", id, razar.ErrNotFound)
	}
	inc := Build(id, rec, sc.recs)
	inc.Truncated = sc.truncated
	return inc, nil
}

// scan collects one incident's records over one or more scans, within
// MaxRecords and MaxScanned.
type scan struct {
	id        string
	recs      []bus.AuditRecord
	scanned   int
	truncated bool
	ended     time.Time // the incident's final record, once seen
}

var errStop = errors.New("stop")

func (sc *scan) run(ctx context.Context, src Source, filter string, since time.Time) error {
	err := src.Scan(ctx, filter, since, false, func(seq uint64, _ string, data []byte) error {
		sc.scanned++
		if sc.scanned > MaxScanned {
			sc.truncated = true
			return errStop
		}
		var r bus.AuditRecord
		if bus.Decode(data, &r) != nil {
			return nil
		}
		t := stamp(&r)
		// Records come a little after the end (a late result, the fix
		// memory learning); a minute past it, the incident has no more.
		if !sc.ended.IsZero() && t.After(sc.ended.Add(time.Minute)) {
			return errStop
		}
		if r.Incident != sc.id {
			return nil
		}
		if len(sc.recs) >= MaxRecords {
			sc.truncated = true
			return errStop
		}
		r.Seq = seq
		sc.recs = append(sc.recs, r)
		switch r.Event {
		case bus.EventHealed, bus.EventFailed, bus.EventAborted:
			sc.ended = t
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	return nil
}

// idTime is the time in an incident id (inc-20060102-150405-xxxxxx, UTC),
// zero when it has none.
func idTime(id string) time.Time {
	if len(id) < len("inc-20060102-150405") {
		return time.Time{}
	}
	t, err := time.Parse("20060102-150405", id[4:19])
	if err != nil {
		return time.Time{}
	}
	return t
}

func stamp(r *bus.AuditRecord) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.TimestampISO)
	return t
}

// Build assembles the view of incident id from its stored record (nil when
// it has expired) and its audit records, oldest first.
func Build(id string, rec *bus.IncidentRecord, recs []bus.AuditRecord) *Incident {
	b := &builder{
		inc:      &Incident{ID: id, State: "open"},
		byNumber: map[int]*Attempt{},
		patches:  map[string]*Patch{},
	}
	for i := range recs {
		b.record(&recs[i])
	}
	if rec != nil {
		b.adopt(rec)
	} else {
		b.inc.Tokens = b.spent()
	}
	b.listAttempts()
	return b.inc
}

// builder is the state of one Build: the view so far and its attempts and
// patches by number and id.
type builder struct {
	inc      *Incident
	byNumber map[int]*Attempt
	patches  map[string]*Patch
}

// attempt is attempt n, made on first sight; r, when not nil, fills in what
// the attempt does not know yet (its rung, pass and earliest start).
func (b *builder) attempt(n int, r *bus.AuditRecord) *Attempt {
	a := b.byNumber[n]
	if a == nil {
		a = &Attempt{Number: n}
		b.byNumber[n] = a
	}
	if r != nil {
		if r.Agent != "" && a.Rung == "" {
			a.Rung = r.Agent
		}
		if r.AgentDisplay != "" && a.Display == "" {
			a.Display = r.AgentDisplay
		}
		if r.Pass != 0 && a.Pass == 0 {
			a.Pass = r.Pass
		}
		if t := stamp(r); a.Started.IsZero() || (!t.IsZero() && t.Before(a.Started)) {
			a.Started = t
		}
	}
	return a
}

// patchOf is patch id, added to attempt a on first sight.
func (b *builder) patchOf(a *Attempt, id string) *Patch {
	p := b.patches[id]
	if p == nil {
		p = &Patch{ID: id}
		b.patches[id] = p
		a.Patches = append(a.Patches, p)
	}
	return p
}

// event adds a line to the incident's own events.
func (b *builder) event(t time.Time, text string) {
	b.inc.Events = append(b.inc.Events, Event{t, text})
}

// record folds one audit record into the view: into its attempt or patch
// when it belongs to one, else into the incident's events.
func (b *builder) record(r *bus.AuditRecord) {
	t := stamp(r)
	if b.inc.Component == "" && r.Component != bus.SystemComponent {
		b.inc.Component = r.Component
	}
	switch r.Event {
	case bus.EventOpened:
		b.inc.Error, b.inc.Opened = r.Error, t
		b.event(t, "opened: "+cut.FirstLine(r.Error))
	case bus.EventEscalation, bus.EventShown, bus.EventContext, bus.EventAttempt:
		b.attemptRecord(r, t)
	case bus.EventPatch:
		p := b.patchOf(b.attempt(r.Attempt, r), r.PatchID)
		p.Summary, p.Diff, p.Validation, p.Reason, p.Placement, p.Files, p.OutputTail, p.Note =
			r.Summary, r.Diff, r.Validation, r.Reason, r.Placement, r.Files, r.OutputTail, r.Message
	case bus.EventPending, bus.EventApplied, bus.EventRejected, bus.EventReverted:
		b.patchStep(r, t)
	case bus.EventHealed, bus.EventFailed, bus.EventAborted:
		b.inc.State, b.inc.Reason = r.Status, r.Reason
		if b.inc.State == "" {
			b.inc.State = string(r.Event)
		}
		b.event(t, string(r.Event)+": "+r.Reason)
	default:
		b.event(t, eventText(r))
	}
}

// attemptRecord folds a record of what an attempt did into that attempt;
// a tool call outside any attempt is an incident event.
func (b *builder) attemptRecord(r *bus.AuditRecord, t time.Time) {
	switch r.Event {
	case bus.EventEscalation:
		a := b.attempt(r.Attempt, r)
		a.From = r.From
	case bus.EventShown:
		a := b.attempt(r.Attempt, r)
		a.Shown, a.ShownBytes = r.Shown, r.Bytes
	case bus.EventContext:
		if r.Attempt == 0 {
			b.event(t, fmt.Sprintf("tool call %s %s by %s outside any attempt: %s", r.Op, r.Path, r.Agent, r.Verdict))
			return
		}
		a := b.attempt(r.Attempt, r)
		a.Calls = append(a.Calls, Call{Time: t, Op: r.Op, Path: r.Path, Bytes: r.Bytes, Verdict: r.Verdict, Reason: r.Reason})
	case bus.EventAttempt:
		a := b.attempt(r.Attempt, r)
		a.Outcome, a.Summary, a.Error, a.Reason, a.Diff, a.Usage, a.Ended = r.Outcome, r.Summary, r.Error, r.Reason, r.Diff, r.Usage, t
	}
}

// patchStep adds a patch's pending, applied, rejected or reverted step to
// it; one that names no patch or attempt is an incident event.
func (b *builder) patchStep(r *bus.AuditRecord, t time.Time) {
	if r.PatchID == "" || r.Attempt == 0 {
		b.event(t, fmt.Sprintf("%s %s: %s", r.Event, r.PatchID, r.Reason))
		return
	}
	p := b.patchOf(b.attempt(r.Attempt, r), r.PatchID)
	text := string(r.Event)
	if r.Reason != "" {
		text += ": " + r.Reason
	} else if r.Event == bus.EventPending && r.Message != "" {
		text += ": " + r.Message
	}
	if r.Actor != "" {
		text += " (by " + r.Actor + ")"
	}
	p.Steps = append(p.Steps, Event{t, text})
}

// eventText is the line of a record that is only an incident event: a late
// answer, a skipped rung, an alert, an operator's command, or any other.
func eventText(r *bus.AuditRecord) string {
	switch r.Event {
	case bus.EventLate:
		return fmt.Sprintf("late answer from %s to attempt %d: %s", who(r), r.Attempt, r.Outcome)
	case bus.EventSkipped:
		return fmt.Sprintf("skipped %s (pass %d): %s", who(r), r.Pass, r.Error)
	case bus.EventAlert:
		if r.Status == "resolved" {
			return "alert resolved: " + r.Reason
		}
		return fmt.Sprintf("alert %s: %s", r.Severity, r.Message)
	case bus.EventLifecycle:
		text := fmt.Sprintf("%s by %s: %s", r.Verb, r.Actor, r.Status)
		if r.Error != "" {
			text += ": " + r.Error
		}
		return text
	}
	text := string(r.Event)
	for _, s := range []string{r.Status, r.Reason, r.Message} {
		if s != "" {
			text += ": " + s
			break
		}
	}
	return text
}

// adopt takes the stored incident as the truth for its fields, and adds
// the attempts (finished or pending) whose records the scan did not reach.
func (b *builder) adopt(rec *bus.IncidentRecord) {
	inc := b.inc
	inc.Stored = true
	inc.Component, inc.State, inc.Reason, inc.Error, inc.Opened, inc.Tokens, inc.Pending =
		rec.Component, string(rec.State), rec.Reason, rec.Error, rec.Opened, rec.Tokens, rec.Pending
	// An attempt whose record the scan did not reach still has its
	// summary in the stored incident.
	for _, s := range rec.Attempts {
		if _, ok := b.byNumber[s.Number]; ok {
			continue
		}
		a := b.attempt(s.Number, nil)
		a.Rung, a.Pass, a.Outcome, a.Summary, a.Error, a.Reason, a.Diff, a.Started, a.Ended =
			s.Rung, s.Pass, string(s.Outcome), s.Summary, s.Error, s.Reason, s.Diff, s.Started, s.Finished
	}
	if p := rec.Pending; p != nil {
		a := b.attempt(p.Attempt, nil)
		if a.Rung == "" {
			a.Rung, a.Pass, a.Started = p.Rung, p.Pass, p.Started
		}
	}
}

// spent is the tokens of the attempts seen, summed: an expired incident's
// only count.
func (b *builder) spent() razar.Usage {
	var sum razar.Usage
	for _, a := range b.byNumber {
		if a.Usage != nil {
			sum = sum.Add(*a.Usage)
		}
	}
	return sum
}

// listAttempts puts the attempts into the view by number, each shown by
// its rung's name when it has no display name.
func (b *builder) listAttempts() {
	delete(b.byNumber, 0) // records of no attempt are in Events
	for _, a := range b.byNumber {
		if a.Display == "" {
			a.Display = a.Rung
		}
		b.inc.Attempts = append(b.inc.Attempts, a)
	}
	sort.Slice(b.inc.Attempts, func(i, j int) bool { return b.inc.Attempts[i].Number < b.inc.Attempts[j].Number })
}

// Total is the sum of a usage's prompt and completion tokens.
func Total(u razar.Usage) int64 { return u.Prompt + u.Completion }

func who(r *bus.AuditRecord) string {
	if r.AgentDisplay != "" {
		return r.AgentDisplay
	}
	return r.Agent
}
