package bus

import (
	"encoding/json"

	"github.com/razar/razar"
)

// The redaction seam. Every payload that carries text from outside RAZAR
// (a component's output, a rung's answer, an operator's note) scrubs itself
// where it is published: its Scrub passes each of its free texts, named in
// ONE list per type below, through the redactor it is given (razar.ScrubShapes,
// (*razar.Redactor).Redact, or a hook built on them) and clips it to its
// bound. A test walks every string field of these types: each is on its
// type's list or declared not free text (a name, an id, a hash, a time that
// RAZAR itself writes), so a new field cannot slip past.

// MaxStatusErrorBytes bounds a component's last error in the status view.
const MaxStatusErrorBytes = 2 << 10

// freeText is one free text of a payload and the bytes it may keep after
// redaction; max 0 keeps it whole (its writer bounds it another way).
type freeText struct {
	p   *string
	max int
}

// scrubTexts redacts each text, then clips it to its bound.
func scrubTexts(redact func(string) string, texts ...freeText) {
	for _, t := range texts {
		*t.p = redact(*t.p)
		if t.max > 0 {
			*t.p = Clip(*t.p, t.max)
		}
	}
}

// textBounds are the bytes each kind of a domain value's free text may
// keep on the wire.
var textBounds = map[razar.TextKind]int{razar.ErrorText: MaxErrorBytes, razar.SummaryText: MaxSummaryBytes, razar.DiffText: MaxDiffBytes}

// ScrubAttempt redacts and clips the free texts of attempt a, the ones its
// own list names (razar.Attempt.Texts: error, summary, diff and reason),
// before it is recorded or sent. It is a function, not a method: Attempt
// is a type of the domain package, which knows no wire bounds.
func ScrubAttempt(a *razar.Attempt, redact func(string) string) {
	for _, t := range a.Texts() {
		scrubTexts(redact, freeText{t.Field, textBounds[t.Kind]})
	}
}

// Scrub redacts and clips the free texts of a rung's answer: its summary,
// diff and error, and each candidate's summary and diff (a candidate's diff
// is redacted but never cut: a cut diff no longer applies, and the rung
// runtime drops a candidate that does not fit instead).
func (r *Result) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&r.Summary, MaxSummaryBytes}, freeText{&r.Diff, MaxDiffBytes}, freeText{&r.Error, MaxErrorBytes})
	for i := range r.Candidates {
		c := &r.Candidates[i]
		scrubTexts(redact, freeText{&c.Summary, MaxSummaryBytes}, freeText{&c.Diff, 0})
	}
}

// Scrub redacts and clips why a rung cannot run.
func (s *AgentStatus) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&s.Reason, MaxErrorBytes})
}

// Scrub redacts and clips why a rung process answered a probe not ready.
func (p *ProbeReply) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&p.Reason, MaxErrorBytes})
}

// Scrub redacts and clips the free texts of a stored incident: the failure
// it repairs, why it ended, each stored attempt's texts and each skip's
// reason.
func (r *IncidentRecord) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&r.Error, MaxErrorBytes}, freeText{&r.Reason, MaxErrorBytes})
	for i := range r.Attempts {
		ScrubAttempt(&r.Attempts[i], redact)
	}
	for i := range r.Skips {
		scrubTexts(redact, freeText{&r.Skips[i].Reason, MaxErrorBytes})
	}
}

// Scrub redacts and clips a component's last error in the status view.
func (v *ComponentView) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&v.LastError, MaxStatusErrorBytes})
}

// Scrub redacts the free texts of an operator's request: the failure to
// repair, the note on a page, and the record it carries (AuditRecord.Scrub).
func (r *LifecycleRequest) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&r.Error, 0}, freeText{&r.Summary, 0})
	if r.Record != nil {
		r.Record.Scrub(redact)
	}
}

// Scrub redacts an alert's message; its names, labels and links are
// RAZAR's own.
func (a *AlertMsg) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&a.Message, 0})
}

// Scrub redacts why a lifecycle request was refused. Its message and data
// are RAZAR's own answer.
func (r *LifecycleReply) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&r.Error, 0})
}

// Scrub passes every free text of the record through redact: error,
// summary, diff, reason, message, status, outcome, validation, output
// tail, and the raw data (kept only while it stays valid JSON, else
// dropped). Names, ids, hashes and times are RAZAR's own and left as they
// are. Nothing is clipped here: each writer bounds what it records.
func (a *AuditRecord) Scrub(redact func(string) string) {
	scrubTexts(redact, freeText{&a.Error, 0}, freeText{&a.Summary, 0}, freeText{&a.Diff, 0}, freeText{&a.Reason, 0},
		freeText{&a.Message, 0}, freeText{&a.Status, 0}, freeText{&a.Outcome, 0}, freeText{&a.Validation, 0}, freeText{&a.OutputTail, 0})
	if len(a.Data) > 0 {
		if d := redact(string(a.Data)); d != string(a.Data) {
			a.Data = nil
			if json.Valid([]byte(d)) {
				a.Data = json.RawMessage(d)
			}
		}
	}
}
