package razar

import (
	"context"
	"time"
)

// Workspace is what a rung is shown of a component with every escalation:
// the component's entry as the operator wrote it, the tail of its log, a
// listing of its workdir and the text of the files that matter most, within
// a byte budget. Everything in it has passed the workspace gate: the
// deny-list, the size caps and the redactor. Package workspace builds it.
type Workspace struct {
	Entry WorkspaceEntry `json:"entry"`
	// LogTail is the end of logs/components/<name>.log, redacted.
	LogTail string `json:"log_tail,omitempty"`
	// Listing lists the workdir (path, size, modified), denied files left
	// out; ListingOmitted says how many entries the cap left out.
	Listing        []FileInfo `json:"listing"`
	ListingOmitted int        `json:"listing_omitted,omitempty"`
	// Files are the texts shown, most relevant first; FilesOmitted counts
	// the relevant files the byte budget left out (a `read` away).
	Files        []FileText `json:"files"`
	FilesOmitted int        `json:"files_omitted,omitempty"`
	// Budget is the byte budget the file texts were chosen within.
	Budget int `json:"budget_bytes"`
}

// WorkspaceEntry is a component's boot_config.json entry as a rung sees it:
// paths relative to the workdir as the operator wrote them, and the names
// of its env variables, never their values.
type WorkspaceEntry struct {
	Name        string       `json:"name"`
	Command     []string     `json:"command"`
	Workdir     string       `json:"workdir,omitempty"`
	HealthCheck *HealthCheck `json:"health_check,omitempty"`
	Validate    []string     `json:"validate,omitempty"`
	Env         []string     `json:"env,omitempty"` // names only
	Protect     []string     `json:"protect,omitempty"`
}

// FileInfo is one entry of a workdir listing.
type FileInfo struct {
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Dir      bool      `json:"dir,omitempty"`
}

// FileText is one file's text shown to a rung, and, without Text, the
// record of what was shown (path, bytes, sha256 of what was sent).
type FileText struct {
	Path      string `json:"path"`
	Bytes     int    `json:"bytes"`
	SHA256    string `json:"sha256"`
	Text      string `json:"text,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// Why says why the file was chosen: "named in the error", "run by the
	// validator", "config", ...
	Why string `json:"why,omitempty"`
}

// Shown is the record of a workspace's file texts, without the texts.
func (w *Workspace) Shown() []FileText {
	if w == nil {
		return nil
	}
	out := make([]FileText, len(w.Files))
	for i, f := range w.Files {
		f.Text = ""
		out[i] = f
	}
	return out
}

// The operations of a rung's tools on razar.context.<incident>.<rung>.
const (
	ToolList    = "list"    // Glob: the listing, filtered
	ToolRead    = "read"    // Path, optional From/To (1-based, inclusive)
	ToolSearch  = "search"  // Pattern (RE2) over the workdir's text files, Glob optional
	ToolLog     = "log"     // the component's log: Lines of tail, or Pattern to grep
	ToolAttempt = "attempt" // Attempt: an earlier attempt in full, its diff included
	ToolCheck   = "check"   // Diff: placed in a staged copy and validated in the sandbox
)

// ToolRequest is one call of a rung's tools.
type ToolRequest struct {
	Op      string `json:"op"`
	Path    string `json:"path,omitempty"`
	Glob    string `json:"glob,omitempty"`
	From    int    `json:"from,omitempty"`
	To      int    `json:"to,omitempty"`
	Pattern string `json:"pattern,omitempty"`
	Lines   int    `json:"lines,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Diff    string `json:"diff,omitempty"`
}

// ToolReply answers a ToolRequest. OK false carries the refusal in Error,
// worded for a model to act on ("no file config/app.yaml: list shows ...").
type ToolReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Text is a read's lines (numbered), a log's tail or grep, or an
	// attempt's texts; Truncated says it was cut at the byte cap.
	Text      string     `json:"text,omitempty"`
	Truncated bool       `json:"truncated,omitempty"`
	Entries   []FileInfo `json:"entries,omitempty"`
	Matches   []Match    `json:"matches,omitempty"`
	Attempt   *Attempt   `json:"attempt,omitempty"`
	// check: whether the diff placed and validated, and how each hunk was
	// placed.
	Applied   bool     `json:"applied,omitempty"`
	Validated bool     `json:"validated,omitempty"`
	Placement []string `json:"placement,omitempty"`
	// CallsLeft is what remains of the attempt's call budget.
	CallsLeft int `json:"calls_left"`
}

// Match is one line a search found.
type Match struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// Tools are a rung's read-only view of its incident while its attempt is
// pending, answered by the orchestrator on razar.context.<incident>.<rung>.
// Call returns an error only when no answer came (the bus, a deadline);
// a refusal is a ToolReply with OK false.
type Tools interface {
	Call(ctx context.Context, req ToolRequest) (ToolReply, error)
}

// ToolsFunc adapts a function to Tools.
type ToolsFunc func(ctx context.Context, req ToolRequest) (ToolReply, error)

// Call calls f.
func (f ToolsFunc) Call(ctx context.Context, req ToolRequest) (ToolReply, error) { return f(ctx, req) }

var _ Tools = ToolsFunc(nil)

// Usage is a model's token count for one attempt.
type Usage struct {
	Prompt     int64 `json:"prompt_tokens,omitempty"`
	Completion int64 `json:"completion_tokens,omitempty"`
}

// Add returns u plus v.
func (u Usage) Add(v Usage) Usage {
	return Usage{Prompt: u.Prompt + v.Prompt, Completion: u.Completion + v.Completion}
}
