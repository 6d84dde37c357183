package main

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

const fixesHelp = `The fix memory (docs/FIXES.md): when an incident heals with a patch that
held, RAZAR remembers the diff under the failure's signature (the component
and its failure text with times, temp paths, ids, pids, ports and numbers
masked, hashed). The next incident with that signature tries the remembered
fix first, as an attempt of rung "memory", through the same checks as any
patch; a fix whose files changed since is skipped, one that fails is marked
and not tried again until it heals anew. A fix whose patch was rolled back
(razar rollback-patch) is marked undone and never replayed unless pinned
again; one that adds files or executable bits waits for razar approve
(RAZAR_FIX_MEMORY_NEW_FILES=never: it is never replayed).

fixes list and fixes show read the memory of the running RAZAR (every
identity may). fixes forget drops a signature's fixes, so its next
occurrence climbs the ladder; fixes pin makes a fix (the newest, or --fix
ID) a permanent rule: tried first and kept when it fails. Both are recorded
on the audit stream and need an operator identity. RAZAR_FIX_MEMORY=off
turns the memory off.
`

// fixes sends one fix memory verb and prints its answer.
func (c *cli) fixes(ctx context.Context, name string, args []string) error {
	fs := c.newFlags("fixes " + name)
	natsURL := fs.String("nats", "", "NATS `URL`")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	fix := new(string)
	if name == "pin" {
		fix = fs.String("fix", "", "the fix `ID` to pin (default the newest)")
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	req := &bus.LifecycleRequest{Actor: c.actor(), Fix: *fix}
	verb := bus.VerbFixes
	switch {
	case name == "list" && len(pos) == 0:
	case name == "list":
		return usageErr("fixes list takes no arguments, got %q", pos[0])
	case len(pos) != 1:
		return usageErr("usage: razar fixes %s <signature>", name)
	case !fixmem.ValidSignature(pos[0]):
		return usageErr("signature %q: want sig- and 16 hex digits, as `razar fixes list` prints", pos[0])
	default:
		req.Signature = pos[0]
	}
	switch name {
	case "forget":
		verb = bus.VerbFixForget
	case "pin":
		verb = bus.VerbFixPin
	}
	nc, err := c.connect(ctx, *natsURL, "razar-cli", c.cliLogger())
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := bus.Command(cctx, nc, verb, bus.AllComponents, req)
	if err != nil {
		return replyErr(bus.AllComponents, rep, err)
	}
	if *asJSON && len(rep.Data) > 0 {
		fmt.Fprintln(c.stdout, string(rep.Data))
		return nil
	}
	switch {
	case name == "list":
		var entries []fixmem.Entry
		if err := json.Unmarshal(rep.Data, &entries); err != nil {
			return failed("fixes reply: %v", err)
		}
		tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SIGNATURE\tCOMPONENT\tFIXES\tLEARNED\tFAILURE")
		for _, e := range entries {
			pin := ""
			if e.Pinned {
				pin = " pinned"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d of %d usable%s\t%s\t%s\n", e.Signature, sanitize(e.Component), e.Usable, e.Fixes, pin,
				e.Learned.Local().Format(time.DateTime), sanitize(cut.Head(e.Failure, 80, "…")))
		}
		return tw.Flush()
	case name == "show":
		var fixes []fixmem.Fix
		if err := json.Unmarshal(rep.Data, &fixes); err != nil {
			return failed("fixes reply: %v", err)
		}
		for i, f := range fixes {
			if i > 0 {
				fmt.Fprintln(c.stdout)
			}
			state := "usable"
			switch {
			case f.Undone:
				state = "undone " + f.FailedAt.Local().Format(time.DateTime) + ": " + sanitize(cut.FirstLine(f.FailedReason)) + "; never replayed unless pinned again"
			case f.Pinned:
				state = "pinned by " + sanitize(f.PinnedBy)
			case f.Failed:
				state = "failed " + f.FailedAt.Local().Format(time.DateTime) + ": " + sanitize(cut.FirstLine(f.FailedReason))
			}
			fmt.Fprintf(c.stdout, "fix %s (%s)\n  written by %s for %s, learned %s\n  failure: %s\n", f.ID, state, sanitize(f.Rung), sanitize(f.Incident),
				f.Learned.Local().Format(time.DateTime), sanitize(f.Failure))
			for _, pf := range f.Files {
				fmt.Fprintf(c.stdout, "  %s %s  %s -> %s\n", pf.Op, sanitize(pf.Path), short(pf.SHA256Before), short(pf.SHA256After))
			}
			for _, l := range strings.Split(strings.TrimRight(f.Diff, "\n"), "\n") {
				fmt.Fprintf(c.stdout, "  | %s\n", sanitize(l))
			}
		}
		return nil
	}
	fmt.Fprintln(c.stdout, rep.Message)
	return nil
}

func short(h string) string {
	if h == "" {
		return "(none)"
	}
	return h[:min(12, len(h))]
}

func fixesVerb(name string) func(*cli, context.Context, []string) error {
	return func(c *cli, ctx context.Context, args []string) error { return c.fixes(ctx, name, args) }
}
