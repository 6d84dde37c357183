package statuspage

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/razar/razar/internal/cut"

	"github.com/razar/razar"
)

// WriteText writes the incident's view for a terminal: a header, then each
// attempt with its rung, outcome, reason and tokens, the files it was
// shown, its tool calls, and each candidate diff with its placement notes.
// Every text from a component or a rung has its control characters
// stripped: it must not drive the operator's terminal.
func WriteText(w io.Writer, inc *Incident) error {
	p := &printer{w: w}
	p.header(inc)
	for _, a := range inc.Attempts {
		p.line("")
		p.attempt(a)
	}
	p.events(inc.Events)
	return p.err
}

// header prints what the incident is, why it ended, and how the view was
// built.
func (p *printer) header(inc *Incident) {
	p.line("incident %s · %s · %s", inc.ID, inc.Component, inc.State)
	if inc.Reason != "" {
		p.line("  why: %s", inc.Reason)
	}
	if inc.Error != "" {
		p.block("  error: ", inc.Error)
	}
	p.line("  opened %s · %d attempt(s) · tokens %s", when(inc.Opened), len(inc.Attempts), tokens(&inc.Tokens))
	if !inc.Stored {
		p.line("  (its key has expired from RAZAR_STATE: built from its audit records)")
	}
	if inc.Truncated {
		p.line("  (cut short: more than %d records; `razar audit --incident %s --json` prints them all)", MaxRecords, inc.ID)
	}
}

// attempt prints one attempt: its heading and texts, the files it was
// shown, its tool calls, and its patches or its unplaced diff.
func (p *printer) attempt(a *Attempt) {
	outcome := a.Outcome
	if outcome == "" {
		outcome = "pending"
	}
	rung := a.Display
	if a.Rung != "" && a.Rung != a.Display {
		rung += " (" + a.Rung + ")"
	}
	p.line("── attempt %d · %s · pass %d · %s · tokens %s", a.Number, rung, a.Pass, outcome, tokens(a.Usage))
	if a.From != "" {
		p.line("   handed over from %s at %s", a.From, when(a.Started))
	}
	if a.Summary != "" {
		p.block("   summary: ", a.Summary)
	}
	if a.Error != "" {
		p.block("   error: ", a.Error)
	}
	if a.Reason != "" {
		p.block("   reason: ", a.Reason)
	}
	p.shown(a)
	p.calls(a.Calls)
	for _, pt := range a.Patches {
		p.patch(pt)
	}
	if len(a.Patches) == 0 && a.Diff != "" {
		p.line("   diff (not placed):")
		p.indented("     ", a.Diff)
	}
}

// shown prints the file texts the attempt's rung was shown.
func (p *printer) shown(a *Attempt) {
	if len(a.Shown) == 0 {
		p.line("   shown: no file texts")
		return
	}
	p.line("   shown: %d file(s), %d bytes", len(a.Shown), a.ShownBytes)
	for _, f := range a.Shown {
		p.line("     %s  %d bytes  sha256 %s%s  %s", f.Path, f.Bytes, short(f.SHA256), trunc(f.Truncated), f.Why)
	}
}

// calls prints an attempt's tool calls, with the reason of each one not ok.
func (p *printer) calls(calls []Call) {
	if len(calls) == 0 {
		p.line("   tool calls: none")
		return
	}
	p.line("   tool calls: %d", len(calls))
	for _, c := range calls {
		target := c.Path
		if target == "" {
			target = "-"
		}
		p.line("     %s %s %s → %s, %d bytes", when(c.Time), c.Op, target, c.Verdict, c.Bytes)
		if c.Reason != "" && c.Verdict != "ok" {
			p.block("       ", c.Reason)
		}
	}
}

// patch prints one candidate patch: its validation, placement notes,
// steps, validator output and diff.
func (p *printer) patch(pt *Patch) {
	p.line("   patch %s: validation %s", pt.ID, pt.Validation)
	if pt.Reason != "" {
		p.block("     reason: ", pt.Reason)
	}
	if pt.Note != "" {
		p.line("     note: %s", pt.Note)
	}
	for _, n := range pt.Placement {
		p.line("     placement: %s", n)
	}
	if len(pt.Placement) == 0 && pt.Diff != "" {
		p.line("     placement: every hunk applied as written")
	}
	for _, s := range pt.Steps {
		p.line("     %s %s", when(s.Time), s.Text)
	}
	if pt.OutputTail != "" {
		p.line("     validator output:")
		p.indented("       | ", pt.OutputTail)
	}
	if pt.Diff != "" {
		p.line("     diff:")
		p.indented("       ", pt.Diff)
	}
}

// events prints the incident's records that belong to no attempt.
func (p *printer) events(events []Event) {
	if len(events) == 0 {
		return
	}
	p.line("")
	p.line("── the incident")
	for _, e := range events {
		p.line("   %s %s", when(e.Time), e.Text)
	}
}

type printer struct {
	w   io.Writer
	err error
}

// line prints one line; its arguments are cleaned and kept to one line.
func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = strings.ReplaceAll(cut.Clean(s), "\n", " ")
		}
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

// block prints a text after a label, its further lines under it.
func (p *printer) block(label, text string) {
	lines := strings.Split(strings.TrimRight(cut.Clean(text), "\n"), "\n")
	p.line("%s%s", label, lines[0])
	pad := strings.Repeat(" ", len([]rune(label)))
	for _, l := range lines[1:] {
		if p.err == nil {
			_, p.err = fmt.Fprintln(p.w, pad+l)
		}
	}
}

// indented prints every line of text after prefix.
func (p *printer) indented(prefix, text string) {
	for _, l := range strings.Split(strings.TrimRight(cut.Clean(text), "\n"), "\n") {
		if p.err == nil {
			_, p.err = fmt.Fprintln(p.w, prefix+l)
		}
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "--:--:--"
	}
	t = t.Local()
	if y, m, d := t.Date(); y != time.Now().Year() || m != time.Now().Month() || d != time.Now().Day() {
		return t.Format("01-02 15:04:05")
	}
	return t.Format("15:04:05")
}

func tokens(u *razar.Usage) string {
	if u == nil || *u == (razar.Usage{}) {
		return "none reported"
	}
	return fmt.Sprintf("%d (%d prompt, %d completion)", Total(*u), u.Prompt, u.Completion)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func trunc(t bool) string {
	if t {
		return " (cut to the budget)"
	}
	return ""
}
