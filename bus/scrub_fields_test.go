package bus

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/razar/razar"
)

// notFreeText declares, per payload type, the string fields that are not
// free text: names, ids, hashes, times, enums that RAZAR itself writes or
// checks. Every other string field must be scrubbed by the type's Scrub.
// Paths name nested fields as Parent.Field, slice elements as Field[].
var notFreeText = map[string][]string{
	"Attempt":     {"Rung", "Outcome", "DiffSHA256", "Actor"},
	"Result":      {"Incident", "Rung", "Status", "Host"},
	"AgentStatus": {"Name", "Display", "Host"},
	"ProbeReply":  {"Rung", "Host"},
	"AlertMsg":    {"Severity", "Component", "Incident", "Name", "Status", "Fingerprint", "Runbook", "Host", "Home", "GeneratorURL"},
	// A reply's message is RAZAR's own answer to the command.
	"LifecycleReply": {"Component", "Code", "Incident", "Message"},
	"IncidentRecord": {"ID", "Component", "State", "LastRung", "Workdir", "Cycle",
		"Pending.Rung", "Pending.AckedBy", "Pending.Fix",
		"Attempts[].Rung", "Attempts[].Outcome", "Attempts[].DiffSHA256", "Attempts[].Actor",
		"Skips[].Rung", "Policy.Local[]", "Policy.Takeover", "Cursor.Phase"},
	"ComponentView": {"Name", "Chakra", "Status", "Rung", "LastExit", "Backoff", "Incident"},
	"LifecycleRequest": {"Actor", "Patch", "Signature", "Fix", "Digest",
		// Who is set by the server from the authenticated identity, never encoded.
		"Who",
		// Record is scrubbed by its own list (AuditRecord.Scrub), tested as AuditRecord.
		"Record"},
	"AuditRecord": {"Event", "Component", "Incident", "Agent", "AgentDisplay", "From", "To", "Severity",
		"Verb", "Actor", "ActorKey", "PatchID", "Sandbox", "Signature", "Fix", "Op", "Path", "Verdict", "Role",
		"TimestampISO",
		"Files[].Path", "Files[].OldPath", "Files[].Op", "Files[].SHA256Before", "Files[].SHA256After",
		// Placement is the patch engine's own account of where it put a
		// hunk (file, line numbers).
		"Placement[]",
		// Shown records name what an escalation showed: path, bytes,
		// sha256, why; their Text is never set on a record.
		"Shown[].Path", "Shown[].SHA256", "Shown[].Text", "Shown[].Why",
		"IdentityFingerprint.SHA256", "IdentityFingerprint.Modified", "IdentityFingerprint.Path"},
}

// fillStrings sets every exported string reachable from v (struct fields,
// pointers to structs, one element of each slice) to a text naming its
// path, and returns the paths. Paths in skip are neither set nor entered.
func fillStrings(v reflect.Value, path string, skip []string) []string {
	if path != "" && slices.Contains(skip, path) {
		return []string{path}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("secret in " + path)
		return []string{path}
	case reflect.Pointer:
		if v.Type().Elem().Kind() != reflect.Struct {
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fillStrings(v.Elem(), path, skip)
	case reflect.Slice:
		if k := v.Type().Elem().Kind(); k != reflect.String && k != reflect.Struct {
			return nil
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		return fillStrings(v.Index(0), path+"[]", skip)
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Anonymous {
				continue
			}
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			out = append(out, fillStrings(v.Field(i), p, skip)...)
		}
		return out
	}
	return nil
}

// stringAt returns the string at path in v, as fillStrings named it.
func stringAt(v reflect.Value, path string) string {
	for part := range strings.SplitSeq(path, ".") {
		name, isSlice := strings.CutSuffix(part, "[]")
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if name != "" {
			v = v.FieldByName(name)
		}
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		if isSlice {
			v = v.Index(0)
		}
	}
	return v.String()
}

// Every string field of every payload that scrubs itself is either
// scrubbed (on its type's one list) or declared not free text above, so a
// field added later cannot carry a secret past the seam unnoticed.
func TestScrubCoversEveryStringField(t *testing.T) {
	const redacted = "[R]"
	redact := func(string) string { return redacted }
	cases := []struct {
		name  string
		v     any // pointer to a zero payload
		scrub func(v any)
	}{
		{"Attempt", &razar.Attempt{}, func(v any) { ScrubAttempt(v.(*razar.Attempt), redact) }},
		{"Result", &Result{}, func(v any) { v.(*Result).Scrub(redact) }},
		{"AgentStatus", &AgentStatus{}, func(v any) { v.(*AgentStatus).Scrub(redact) }},
		{"ProbeReply", &ProbeReply{}, func(v any) { v.(*ProbeReply).Scrub(redact) }},
		{"LifecycleReply", &LifecycleReply{}, func(v any) { v.(*LifecycleReply).Scrub(redact) }},
		{"AlertMsg", &AlertMsg{}, func(v any) { v.(*AlertMsg).Scrub(redact) }},
		{"IncidentRecord", &IncidentRecord{}, func(v any) { v.(*IncidentRecord).Scrub(redact) }},
		{"ComponentView", &ComponentView{}, func(v any) { v.(*ComponentView).Scrub(redact) }},
		{"LifecycleRequest", &LifecycleRequest{}, func(v any) { v.(*LifecycleRequest).Scrub(redact) }},
		{"AuditRecord", &AuditRecord{}, func(v any) { v.(*AuditRecord).Scrub(redact) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			declared := notFreeText[tc.name]
			rv := reflect.ValueOf(tc.v)
			paths := fillStrings(rv, "", declared)
			tc.scrub(tc.v)
			for _, p := range paths {
				if slices.Contains(declared, p) {
					continue
				}
				if got := stringAt(rv, p); got != redacted {
					t.Errorf("%s.%s = %q after Scrub: add it to the type's list of free texts (bus/scrub.go) or declare it not free text in notFreeText", tc.name, p, got)
				}
			}
			for _, d := range declared {
				if !slices.Contains(paths, d) {
					t.Errorf("notFreeText[%q] names %s, which %s has no longer", tc.name, d, tc.name)
				}
			}
		})
	}
}

// A declared non-text field is left as it is by Scrub.
func TestScrubLeavesWhatIsNotFreeText(t *testing.T) {
	rec := &IncidentRecord{ID: "inc-1", Component: "web", Error: "boom", Attempts: []razar.Attempt{{Rung: "k2", Summary: "s", DiffSHA256: "ab"}}}
	rec.Scrub(func(string) string { return "[R]" })
	if rec.ID != "inc-1" || rec.Component != "web" || rec.Attempts[0].Rung != "k2" || rec.Attempts[0].DiffSHA256 != "ab" {
		t.Fatalf("Scrub changed names or hashes: %+v", rec)
	}
	if rec.Error != "[R]" || rec.Attempts[0].Summary != "[R]" {
		t.Fatalf("Scrub missed free text: %+v", rec)
	}
}

// Scrub clips each free text to its bound after redacting it.
func TestScrubClipsAfterRedacting(t *testing.T) {
	a := razar.Attempt{Error: strings.Repeat("e", MaxErrorBytes+100), Diff: strings.Repeat("d", 10)}
	ScrubAttempt(&a, func(s string) string { return s })
	if len(a.Error) > MaxErrorBytes || !strings.Contains(a.Error, "[razar: cut") {
		t.Fatalf("error not clipped to %d: %d bytes", MaxErrorBytes, len(a.Error))
	}
	if a.Diff != strings.Repeat("d", 10) {
		t.Fatalf("a short diff changed: %q", a.Diff)
	}
	r := &Result{Candidates: []razar.Candidate{{Diff: strings.Repeat("d", MaxDiffBytes+1)}}}
	r.Scrub(func(s string) string { return s })
	if len(r.Candidates[0].Diff) != MaxDiffBytes+1 {
		t.Fatal("a candidate's diff was cut: a cut diff no longer applies")
	}
}

// Every kind of a domain text has its wire bound, so no attempt text is
// sent unclipped because its kind was added after the bounds were.
func TestEveryAttemptTextHasABound(t *testing.T) {
	var a razar.Attempt
	for _, f := range a.Texts() {
		if textBounds[f.Kind] <= 0 {
			t.Errorf("razar.TextKind %d has no bound in textBounds", f.Kind)
		}
	}
}
