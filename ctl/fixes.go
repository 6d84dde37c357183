package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/fixmem"
	"github.com/razar/razar/internal/cut"
)

// FixesOptions are `razar fixes list|show|forget|pin`'s.
type FixesOptions struct {
	NATS string   // --nats URL
	JSON bool     // --json: the reply as JSON
	Fix  string   // --fix: the fix to pin (default the newest)
	Args []string // <signature>, for all but list
}

// Fixes sends one fix memory verb (list, show, forget, pin) and prints its
// answer.
func (c *Client) Fixes(ctx context.Context, name string, o FixesOptions) error {
	req, verb, err := c.fixesRequest(name, o)
	if err != nil {
		return err
	}
	nc, err := c.Connect(ctx, o.NATS, "razar-cli", c.Logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := bus.Command(cctx, nc, verb, bus.AllComponents, req)
	if err != nil {
		return ReplyErr(bus.AllComponents, rep, err)
	}
	if o.JSON && len(rep.Data) > 0 {
		fmt.Fprintln(c.Stdout, string(rep.Data))
		return nil
	}
	switch name {
	case "list":
		return c.printFixList(rep.Data)
	case "show":
		return c.printFixes(rep.Data)
	}
	fmt.Fprintln(c.Stdout, rep.Message)
	return nil
}

// fixesRequest checks the arguments of fixes name and makes its request.
func (c *Client) fixesRequest(name string, o FixesOptions) (*bus.LifecycleRequest, bus.Verb, error) {
	req := &bus.LifecycleRequest{Actor: c.Actor(), Fix: o.Fix}
	pos := o.Args
	switch {
	case name == "list" && len(pos) == 0:
	case name == "list":
		return nil, "", usageErr("fixes list takes no arguments, got %q", pos[0])
	case len(pos) != 1:
		return nil, "", usageErr("usage: razar fixes %s <signature>", name)
	case !fixmem.ValidSignature(pos[0]):
		return nil, "", usageErr("signature %q: want sig- and 16 hex digits, as `razar fixes list` prints", pos[0])
	default:
		req.Signature = pos[0]
	}
	switch name {
	case "forget":
		return req, bus.VerbFixForget, nil
	case "pin":
		return req, bus.VerbFixPin, nil
	}
	return req, bus.VerbFixes, nil
}

// printFixList prints the signatures of a fixes list reply.
func (c *Client) printFixList(data []byte) error {
	var entries []fixmem.Entry
	if err := json.Unmarshal(data, &entries); err != nil {
		return failed("fixes reply: %v", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNATURE\tCOMPONENT\tFIXES\tLEARNED\tFAILURE")
	for _, e := range entries {
		pin := ""
		if e.Pinned {
			pin = " pinned"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d of %d usable%s\t%s\t%s\n", e.Signature, cut.Sanitize(e.Component), e.Usable, e.Fixes, pin,
			e.Learned.Local().Format(time.DateTime), cut.Sanitize(clipText(e.Failure, 80)))
	}
	return tw.Flush()
}

// printFixes prints the fixes of a fixes show reply, each with its diff.
func (c *Client) printFixes(data []byte) error {
	var fixes []fixmem.Fix
	if err := json.Unmarshal(data, &fixes); err != nil {
		return failed("fixes reply: %v", err)
	}
	for i, f := range fixes {
		if i > 0 {
			fmt.Fprintln(c.Stdout)
		}
		fmt.Fprintf(c.Stdout, "fix %s (%s)\n  written by %s for %s, learned %s\n  failure: %s\n", f.ID, fixState(f), cut.Sanitize(f.Rung), cut.Sanitize(f.Incident),
			f.Learned.Local().Format(time.DateTime), cut.Sanitize(f.Failure))
		for _, pf := range f.Files {
			fmt.Fprintf(c.Stdout, "  %s %s  %s -> %s\n", pf.Op, cut.Sanitize(pf.Path), short(pf.SHA256Before), short(pf.SHA256After))
		}
		for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
			fmt.Fprintf(c.Stdout, "  | %s\n", cut.Sanitize(l))
		}
	}
	return nil
}

// fixState is whether a fix is usable, pinned, failed or undone.
func fixState(f fixmem.Fix) string {
	switch {
	case f.Undone:
		return "undone " + f.FailedAt.Local().Format(time.DateTime) + ": " + cut.Sanitize(cut.FirstLine(f.FailedReason)) + "; never replayed unless pinned again"
	case f.Pinned:
		return "pinned by " + cut.Sanitize(f.PinnedBy)
	case f.Failed:
		return "failed " + f.FailedAt.Local().Format(time.DateTime) + ": " + cut.Sanitize(cut.FirstLine(f.FailedReason))
	}
	return "usable"
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func short(h string) string {
	if h == "" {
		return "(none)"
	}
	return h[:min(12, len(h))]
}
