package main

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// checkApprovers validates the --approver names of a two-person rule and
// returns them as they are recorded: at least two, none empty, no two the
// same person. Names are compared by approverKey, so "alice", "Alice ",
// "ALICE", "alice\u200b" and the full-width "ａｌｉｃｅ" are one person;
// " " and "\u200b" are no one. A name holding a control character is
// refused outright: it would be recorded in the audit trail.
func checkApprovers(names []string) ([]string, error) {
	if len(names) < 2 {
		return nil, fmt.Errorf("--apply needs two --approver names (Security Lead and RAZAR owner), got %d", len(names))
	}
	shown := make([]string, len(names))
	keys := make([]string, len(names))
	for i, n := range names {
		if strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
			return nil, fmt.Errorf("--approver %q holds a control character; give the person's name", n)
		}
		shown[i], keys[i] = approverShown(n), approverKey(n)
		if keys[i] == "" {
			return nil, fmt.Errorf("--approver %d is empty (%q has nothing but white space or invisible characters); give the person's name", i+1, n)
		}
		for j := range i {
			if keys[j] == keys[i] {
				return nil, fmt.Errorf("--approver %q and %q are the same person (names are compared ignoring case, width, white space and invisible characters); two different people must approve", names[j], n)
			}
		}
	}
	return shown, nil
}

// approverShown is a name as recorded: NFKC-normalised, invisible (format
// and default-ignorable) characters dropped, white space runs made one
// space, trimmed.
func approverShown(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case invisible(r):
			return -1
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, norm.NFKC.String(name))
	return strings.Join(strings.Fields(s), " ")
}

// approverKey is the form two names are compared in: approverShown, case
// folded (full folding: "ß" is "ss"), normalised again (NFKC_Casefold in
// spirit).
func approverKey(name string) string {
	return norm.NFKC.String(cases.Fold().String(approverShown(name)))
}

// invisible reports whether r renders as nothing: a format character
// (zero-width space and joiners, bidi marks, soft hyphen), a variation
// selector or another default-ignorable code point (Hangul fillers,
// combining grapheme joiner).
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}
