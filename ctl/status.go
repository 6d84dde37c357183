package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/razar/razar/agents/rotation"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
)

// StatusOptions are `razar status`'s.
type StatusOptions struct {
	NATS      string // --nats URL
	JSON      bool   // --json: print the reply as it came
	Component string // one component; "" all of them
}

// Status prints the orchestrator's view of incidents and rungs, and
// returns an exit-1 error while the mission is halted or a component is
// quarantined or failed (StatusVerdict). With RAZAR not answering it
// prints the last recorded state.
func (c *Client) Status(ctx context.Context, o StatusOptions) error {
	component := bus.AllComponents
	if o.Component != "" {
		component = o.Component
		if err := c.checkComponent(component); err != nil {
			return err
		}
	}
	nc, err := c.Connect(ctx, o.NATS, "razar-cli", c.Logger())
	if err != nil {
		return c.lastState(component, o.JSON, err)
	}
	defer nc.Close()
	rep, err := bus.Command(ctx, nc, bus.VerbStatus, component, nil)
	if err != nil {
		if errors.Is(err, bus.ErrNotRunning) {
			return c.lastState(component, o.JSON, failed("%v", err))
		}
		return ReplyErr(component, rep, err)
	}
	var view bus.StatusView
	if err := json.Unmarshal(rep.Data, &view); err != nil {
		if o.JSON {
			fmt.Fprintln(c.Stdout, string(rep.Data))
		}
		return failed("status reply: %v", err)
	}
	if o.JSON {
		fmt.Fprintln(c.Stdout, string(rep.Data))
		return StatusVerdict(view.Mission, component)
	}
	if err := c.printView(&view); err != nil {
		return err
	}
	return StatusVerdict(view.Mission, component)
}

// printView prints a status reply: the mission and its components, the
// patches waiting for approval, the rungs and the incidents.
func (c *Client) printView(view *bus.StatusView) error {
	if view.Mission != nil {
		host := view.Mission.Host
		if host == "" && view.Host != nil {
			host = view.Host.Name
		}
		c.printMission(view.Mission, host, true)
		if view.Mission.Store != "" {
			fmt.Fprintf(c.Stdout, "record store: %s\n", cut.Sanitize(view.Mission.Store))
		}
		c.printComponents(view.Mission.Components)
		fmt.Fprintln(c.Stdout)
	}
	if len(view.Approvals) > 0 {
		tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WAITING FOR APPROVAL\tRUNG\tUNTIL\tRUN")
		for _, p := range view.Approvals {
			fmt.Fprintf(tw, "%s %s\t%s\t%s\trazar approve %s %s (or reject)\n", cut.Sanitize(p.Component), cut.Sanitize(p.Patch), cut.Sanitize(p.Rung),
				p.Until.Local().Format(time.DateTime), cut.Sanitize(p.Component), cut.Sanitize(p.Patch))
		}
		tw.Flush()
		fmt.Fprintln(c.Stdout)
	}
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNG\tSTATE\tDETAIL")
	for _, a := range view.Agents {
		state := "ready"
		if !a.Ready {
			state = "unavailable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cut.Sanitize(a.Name), state, cut.Sanitize(cut.FirstLine(a.Reason)))
	}
	tw.Flush()
	fmt.Fprintln(c.Stdout)
	return c.printIncidents(view.Incidents)
}

// printIncidents prints the newest 20 incidents, one line each.
func (c *Client) printIncidents(incidents []*bus.IncidentRecord) error {
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INCIDENT\tCOMPONENT\tSTATE\tATTEMPTS\tRUNG\tOPENED\tREASON")
	sort.Slice(incidents, func(i, j int) bool { return incidents[i].Opened.After(incidents[j].Opened) })
	for i, r := range incidents {
		if i >= 20 {
			fmt.Fprintf(tw, "… %d more\n", len(incidents)-20)
			break
		}
		rung := r.LastRung
		switch {
		case r.Pending != nil:
			rung = r.Pending.Rung + " (working)"
		case r.State == razar.IncidentOpen && r.LastRung != "":
			rung = "between attempts (last: " + r.LastRung + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cut.Sanitize(r.ID), cut.Sanitize(r.Component), cut.Sanitize(string(r.State)), r.Earlier+len(r.Attempts), cut.Sanitize(rung), r.Opened.Local().Format(time.DateTime), cut.Sanitize(cut.FirstLine(r.Reason)))
	}
	return tw.Flush()
}

// printMission prints the mission's health, whose it is, why it is not
// healthy and, while it is halted, the operator's next step (running: RAZAR
// answers; else the next step is a new `razar boot`).
func (c *Client) printMission(m *bus.MissionState, host string, running bool) {
	line := "mission: " + m.Health
	if host != "" {
		line += " (host " + host + ")"
	}
	fmt.Fprintln(c.Stdout, cut.Sanitize(line))
	for _, p := range m.Problems {
		fmt.Fprintln(c.Stdout, "  down: "+cut.Sanitize(p))
	}
	if m.Health == bus.HealthHalted {
		next := m.Next
		if !running {
			next = "release what is quarantined (`razar release <component>`), then `razar boot` starts a new cycle"
		}
		fmt.Fprintf(c.Stdout, "boot cycle %s halted; next: %s\n", cut.Sanitize(m.Halted), cut.Sanitize(next))
	}
	fmt.Fprintln(c.Stdout)
}

// printComponents prints one line per component.
func (c *Client) printComponents(comps []bus.ComponentView) {
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATUS\tPID\tRESTARTS\tLAST EXIT\tINCIDENT\tDETAIL")
	for _, v := range comps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cut.Sanitize(v.Name), cut.Sanitize(componentState(v)), pidText(v), restartsText(v),
			cut.Sanitize(rotation.OrDash(v.LastExit)), cut.Sanitize(rotation.OrDash(v.Incident)), cut.Sanitize(cut.FirstLine(v.LastError)))
	}
	tw.Flush()
}

// componentState is a component's status as an operator reads it: who
// holds it, which rung works on it, when it restarts next.
func componentState(v bus.ComponentView) string {
	s := v.Status
	switch {
	case v.Held:
		s += " (by an operator)"
	case v.Rung != "":
		s += " (" + v.Rung + ")"
	case v.Status == bus.StatusEscalated && !v.NextAttempt.IsZero():
		s += fmt.Sprintf(" (next attempt in %s, at %s)", max(0, time.Until(v.NextAttempt)).Round(time.Second).String(), v.NextAttempt.Local().Format(time.TimeOnly))
	case v.Status == bus.StatusEscalated:
		s += " (between attempts)"
	case v.Status == bus.StatusRestarting && !v.NextRestart.IsZero():
		s += fmt.Sprintf(" (in %s, at %s)", time.Until(v.NextRestart).Round(time.Second).String(), v.NextRestart.Local().Format(time.TimeOnly))
	case v.Status == bus.StatusWaiting:
		s += " (for its boot-order turn)"
	}
	return s
}

func pidText(v bus.ComponentView) string {
	switch {
	case v.PID <= 0:
		return "-"
	case v.Adopted:
		return fmt.Sprintf("%d (adopted)", v.PID)
	}
	return fmt.Sprint(v.PID)
}

// restartsText is the restart count, and the crash loop's share of the
// --retries budget while one is going on.
func restartsText(v bus.ComponentView) string {
	if v.Crashes > 0 && v.Status != bus.StatusHealthy {
		return fmt.Sprintf("%d (loop: %d)", v.Restarts, v.Crashes)
	}
	return fmt.Sprint(v.Restarts)
}

// lastState prints logs/razar_state.json when RAZAR does not answer, and
// returns why it could not ask, with what that state says (still exit 1).
func (c *Client) lastState(component string, asJSON bool, why error) error {
	data, err := os.ReadFile(c.home().StateFile())
	if err != nil {
		return why
	}
	var st bus.MissionState
	if json.Unmarshal(data, &st) != nil {
		return why
	}
	if asJSON {
		fmt.Fprintln(c.Stdout, strings.TrimSpace(string(data)))
		return notRunningVerdict(why, &st, component)
	}
	fmt.Fprintf(c.Stdout, "RAZAR is not answering; last recorded state (%s, updated %s):\n\n", razar.Home("").StateFile(), st.Updated.Local().Format(time.DateTime))
	c.printMission(&st, st.Host, false)
	var comps []bus.ComponentView
	for _, v := range st.Components {
		if component == bus.AllComponents || v.Name == component {
			comps = append(comps, v)
		}
	}
	c.printComponents(comps)
	return notRunningVerdict(why, &st, component)
}
