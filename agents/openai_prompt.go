package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/razar/razar"
)

// openAIHistory is one earlier attempt as the model sees it. A shortened
// attempt (its texts left out to keep the prompt within its budget) keeps
// the size and hash of its diff; the `attempt` tool returns it whole.
type openAIHistory struct {
	Attempt    int           `json:"attempt"`
	Rung       string        `json:"rung"`
	Outcome    razar.Outcome `json:"outcome"`
	Error      string        `json:"error,omitempty"`
	Summary    string        `json:"summary,omitempty"`
	Diff       string        `json:"diff,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	DiffBytes  int           `json:"diff_bytes,omitempty"`
	DiffSHA256 string        `json:"diff_sha256,omitempty"`
	Shortened  bool          `json:"shortened,omitempty"`
}

// File texts are framed by these lines in the prompt, so neither a model
// nor a reader mistakes a file's own ``` or --- lines for the frame.
const (
	promptFileOpen  = "=== file: "
	promptFileClose = "=== end of "
)

// promptListingMax bounds the workdir listing written into a prompt; the
// rest is a `list` call away.
const promptListingMax = 200

// openAIUserPrompt describes the failure, the workspace (the component's
// entry, its log's tail, its workdir's listing and the files that matter)
// and every earlier attempt. tools says whether the model may call tools.
func openAIUserPrompt(t razar.Task, tools bool) string {
	var b strings.Builder
	b.WriteString("A component failed. Propose a repair.\n\n")
	fmt.Fprintf(&b, "component: %s\n", t.Component)
	if t.Workdir != "" {
		fmt.Fprintf(&b, "workdir: %s\n", t.Workdir)
	}
	fmt.Fprintf(&b, "attempt: %d (pass %d)\n", t.Attempt, t.Pass)
	fmt.Fprintf(&b, "error:\n%s\n\n", strings.TrimSpace(t.Error))
	if w := t.Workspace; w != nil {
		writeWorkspace(&b, w, tools)
	} else if tools {
		b.WriteString("No files were sent with this failure: use the tools to look at the workdir.\n\n")
	}
	writeHistory(&b, t)
	return b.String()
}

func writeWorkspace(b *strings.Builder, w *razar.Workspace, tools bool) {
	if entry, err := compactJSON(w.Entry); err == nil {
		b.WriteString("the component's entry in boot_config.json (paths relative to the workdir; env values withheld):\n")
		b.WriteString(entry)
		b.WriteString("\n")
	}
	if tail := strings.TrimRight(w.LogTail, "\n"); tail != "" {
		fmt.Fprintf(b, "the tail of its log (logs/components/%s.log):\n%s\n\n", w.Entry.Name, tail)
	}
	if len(w.Listing) > 0 {
		more := w.ListingOmitted
		list := w.Listing
		if len(list) > promptListingMax {
			more += len(list) - promptListingMax
			list = list[:promptListingMax]
		}
		b.WriteString("the workdir's files (path, bytes):\n")
		for _, f := range list {
			if f.Dir {
				fmt.Fprintf(b, "  %s/\n", strings.TrimSuffix(f.Path, "/"))
				continue
			}
			fmt.Fprintf(b, "  %s %d\n", f.Path, f.Size)
		}
		if more > 0 {
			fmt.Fprintf(b, "  (%d more not listed%s)\n", more, ifTools(tools, "; `list` shows them"))
		}
		b.WriteString("\n")
	}
	if len(w.Files) > 0 {
		b.WriteString("the files that matter most, with their text:\n")
		for _, f := range w.Files {
			why := fmt.Sprintf("%d bytes", f.Bytes)
			if f.Why != "" {
				why += "; " + f.Why
			}
			if f.Truncated {
				why += "; truncated"
			}
			fmt.Fprintf(b, "%s%s (%s) ===\n", promptFileOpen, f.Path, why)
			b.WriteString(f.Text)
			if !strings.HasSuffix(f.Text, "\n") {
				b.WriteString("\n")
			}
			fmt.Fprintf(b, "%s%s ===\n", promptFileClose, f.Path)
		}
		b.WriteString("\n")
	}
	if w.FilesOmitted > 0 {
		fmt.Fprintf(b, "%d more relevant files did not fit in the %d-byte budget%s.\n\n", w.FilesOmitted, w.Budget, ifTools(tools, "; `read` returns any of them"))
	}
}

func writeHistory(b *strings.Builder, t razar.Task) {
	if len(t.History) == 0 {
		b.WriteString("earlier attempts: none\n")
		return
	}
	hist := make([]openAIHistory, len(t.History))
	for i, a := range t.History {
		h := openAIHistory{Attempt: a.Number, Rung: a.Rung, Outcome: a.Outcome, Error: a.Error, Summary: a.Summary, Diff: a.Diff, Reason: a.Reason, Shortened: a.Shortened}
		if a.Diff == "" {
			h.DiffBytes, h.DiffSHA256 = a.DiffBytes, a.DiffSHA256
		}
		hist[i] = h
	}
	js, _ := compactJSON(hist) // strings and ints only: cannot fail
	b.WriteString("earlier attempts, oldest first (JSON; do not repeat a rejected diff):\n")
	b.WriteString(shortenedNote(t))
	b.WriteString(js)
}

// compactJSON encodes v on one line, with < > & left as they are (diffs
// hold them), ending in a newline.
func compactJSON(v any) (string, error) {
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return js.String(), nil
}

func ifTools(tools bool, s string) string {
	if tools {
		return s
	}
	return ""
}
