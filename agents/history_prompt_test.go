package agents

import (
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

// TestOpenAIPromptSaysHowManyAttemptsAreShortened: a model told of earlier
// attempts sent as one line learns how many and that the attempt tool
// returns them; each line keeps its diff's size and hash.
func TestOpenAIPromptSaysHowManyAttemptsAreShortened(t *testing.T) {
	cs := newChatServer(t, answer(`{"status": "no_fix", "summary": "no idea"}`))
	o := newTestOpenAI(t, cs, nil)
	task := openAITask()
	sha := strings.Repeat("ab", 32)
	task.History[0] = razar.Attempt{Number: 1, Rung: "crown", Outcome: razar.OutcomeRejected, Reason: "validation failed", DiffBytes: 1234, DiffSHA256: sha, Shortened: true}
	task.Shortened = 1
	if _, err := repairWithin(t, o, task, 2*time.Second); err != nil {
		t.Fatalf("Repair = %v", err)
	}
	reqs := cs.requests()
	if len(reqs) == 0 || len(reqs[0].Messages) < 2 {
		t.Fatalf("requests %+v, want a user message", reqs)
	}
	var user string
	for _, m := range reqs[0].Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	for _, w := range []string{"1 of the 2 earlier attempts listed are shortened to one line", "the `attempt` tool returns any of them in full",
		`"diff_bytes":1234`, `"diff_sha256":"` + sha + `"`, `"shortened":true`} {
		if !strings.Contains(user, w) {
			t.Errorf("user message lacks %q:\n%s", w, user)
		}
	}
	// Nothing shortened, nothing said.
	task = openAITask()
	if got := shortenedNote(task); got != "" {
		t.Errorf("note for a history sent in full: %q, want none", got)
	}
}
