package main

import (
	"strings"
	"testing"
)

// TestApproversCompareAsPeople pins the comparison itself.
func TestApproversCompareAsPeople(t *testing.T) {
	t.Parallel()
	refused := [][]string{
		{" ", "alice"}, {"alice", "alice\u200b"}, {"Alice", "ALICE"}, {"alice", "\talice\n"},
		{"ａｌｉｃｅ", "alice"},       // full width
		{"al\u00adice", "alice"}, // soft hyphen
		{"alice\u2060", "ALICE"}, // word joiner
		{"\u3164", "bob"},        // Hangul filler only
		{"Straße", "STRASSE"},    // full case folding
		{"alice", "bob", "Bob"},  // a third approver counts too
		{"alice"},                // one
		{"alice", "b\x1b[2Job"},  // a control character
	}
	for _, names := range refused {
		if got, err := checkApprovers(names); err == nil {
			t.Errorf("checkApprovers(%q) = %q, want a refusal", names, got)
		}
	}
	got, err := checkApprovers([]string{" alice ", "Bob\u200b  Smith"})
	if err != nil || strings.Join(got, "|") != "alice|Bob Smith" {
		t.Errorf("checkApprovers(alice, Bob Smith) = %q, %v; want them accepted as recorded", got, err)
	}
}
