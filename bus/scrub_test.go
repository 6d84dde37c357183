package bus

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/razar/razar"
)

// Every free text of an audit record is scrubbed, its raw data too, and
// RAZAR's own names and hashes are left as they are.
func TestAuditRecordScrubCoversEveryFreeText(t *testing.T) {
	const seed = "SUABUYNNDFUJD4N3OTLZXT6OPVL7CNY7EDDLFL5GOQOF3OFGAVEPQMG6KE"
	rec := &AuditRecord{Event: EventPatch, Component: "web", Incident: "inc-1", PatchID: "p-1",
		Files: []PatchFile{{Path: "app.py", Op: "modify", SHA256After: strings.Repeat("ab", 32)}},
		Data:  json.RawMessage(`{"tail":"seed ` + seed + `"}`)}
	for _, f := range []*string{&rec.Error, &rec.Summary, &rec.Diff, &rec.Reason, &rec.Message, &rec.Status, &rec.Outcome, &rec.Validation, &rec.OutputTail} {
		*f = "printed " + seed
	}
	rec.Scrub(razar.ScrubShapes)
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), seed) {
		t.Fatalf("the seed survived: %s", b)
	}
	if !json.Valid(rec.Data) || rec.PatchID != "p-1" || rec.Files[0].SHA256After != strings.Repeat("ab", 32) {
		t.Fatalf("scrub changed what is not free text: %s", b)
	}
}
