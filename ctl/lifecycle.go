package ctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/razar/razar/agents/rotation"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/cut"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/supervisor"
)

// LifecycleOptions are a lifecycle verb's: stop, start, restart, abort,
// release, approve, reject, ack, resolve, pass.
type LifecycleOptions struct {
	NATS    string   // --nats URL
	Summary string   // --summary: a note for the record (ack, resolve, pass)
	Args    []string // <component>, or <component> <patch-id>, or rotation <rotation-id>
}

// Lifecycle sends one lifecycle verb about one component (approve and
// reject: and one patch, or a credential rotation) and prints the
// orchestrator's confirmation. release works with RAZAR stopped too.
func (c *Client) Lifecycle(ctx context.Context, verb bus.Verb, o LifecycleOptions) error {
	verb, component, req, err := c.lifecycleRequest(verb, o)
	if err != nil {
		return err
	}
	nc, err := c.Connect(ctx, o.NATS, "razar-cli", c.Logger())
	if err != nil {
		if verb == bus.VerbRelease && c.notRunning(err) {
			return c.releaseOffline(component)
		}
		return err
	}
	defer nc.Close()
	// start and restart wait for the component's start grace and probe.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := c.Command(cctx, nc, verb, component, req)
	if verb == bus.VerbRelease && errors.Is(err, bus.ErrNotRunning) {
		return c.releaseOffline(component)
	}
	if err != nil {
		return ReplyErr(component, rep, err)
	}
	msg := rep.Message
	if rep.Incident != "" {
		msg += " " + rep.Incident
	}
	if component == bus.AllComponents {
		fmt.Fprintln(c.Stdout, cut.Sanitize(msg))
		return nil
	}
	fmt.Fprintf(c.Stdout, "%s: %s\n", rep.Component, msg)
	return nil
}

// lifecycleRequest reads the arguments of verb: the verb to send (a
// rotation's own for `approve|reject rotation <id>`), its component and
// its request.
func (c *Client) lifecycleRequest(verb bus.Verb, o LifecycleOptions) (bus.Verb, string, *bus.LifecycleRequest, error) {
	req := &bus.LifecycleRequest{Actor: c.Actor(), Summary: o.Summary}
	pos := o.Args
	switch {
	case (verb == bus.VerbApprove || verb == bus.VerbReject) && len(pos) == 2 && pos[0] == "rotation" && strings.HasPrefix(pos[1], rotation.Prefix):
		// razar approve|reject rotation <rot-id>: a credential rotation.
		req.Patch = pos[1]
		rot := map[bus.Verb]bus.Verb{bus.VerbApprove: bus.VerbApproveRotation, bus.VerbReject: bus.VerbRejectRotation}[verb]
		return rot, bus.AllComponents, req, nil
	case verb == bus.VerbApprove || verb == bus.VerbReject:
		if len(pos) != 2 {
			return verb, "", nil, usageErr("usage: razar %s <component> <patch-id>, or razar %s rotation <rotation-id>", verb, verb)
		}
		req.Patch = pos[1]
	case len(pos) != 1:
		return verb, "", nil, usageErr("usage: razar %s <component>", verb)
	}
	if err := c.checkComponent(pos[0]); err != nil {
		return verb, "", nil, err
	}
	return verb, pos[0], req, nil
}

// releaseOffline lifts a quarantine with RAZAR stopped, so the advice a
// halted `razar boot --once` leaves works as it says.
func (c *Client) releaseOffline(name string) error {
	if err := supervisor.ReleaseOffline(c.Home, name); err != nil {
		if errors.Is(err, razar.ErrNotFound) {
			return failed("%v", err)
		}
		return failed("release %s: %v", name, err)
	}
	fmt.Fprintf(c.Stdout, "%s: quarantine lifted (RAZAR is not running; the next `razar boot` starts it)\n", name)
	return nil
}

// EscalateOptions are `razar escalate`'s.
type EscalateOptions struct {
	NATS      string // --nats URL
	Error     string // --error: the failure to repair
	JSON      bool   // --json: each audit record as a JSON line
	Component string
}

// Escalate opens an incident through the running orchestrator and prints
// each step of it as it happens: nil when it healed, exit 1 otherwise.
func (c *Client) Escalate(ctx context.Context, o EscalateOptions) error {
	component := o.Component
	if err := c.checkComponent(component); err != nil {
		return err
	}
	// Every reader of the bus sees the request: no key leaves in it.
	text := c.Redactor().Redact(o.Error)
	if text != o.Error {
		fmt.Fprintln(c.Stderr, "razar: the error text held secrets; they are sent as "+razar.Redacted)
	}
	nc, err := c.Connect(ctx, o.NATS, "razar-escalate", c.Logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := jetstream.Bind(ctx, nc)
	if err != nil {
		return failed("%v", err)
	}
	var incident string
	rec, err := store.FollowIncident(ctx, component, func(ctx context.Context) (string, error) {
		rep, err := bus.Command(ctx, nc, bus.VerbEscalate, component, &bus.LifecycleRequest{Error: text, Actor: c.Actor()})
		if err != nil {
			return "", ReplyErr(component, rep, err)
		}
		fmt.Fprintf(c.Stdout, "%s: %s %s\n", component, rep.Message, rep.Incident)
		incident = rep.Incident
		return rep.Incident, nil
	}, func(r *bus.AuditRecord) { c.PrintRecord(r, o.JSON) })
	switch {
	case err != nil && incident != "" && ctx.Err() != nil:
		return failed("interrupted; the incident goes on (follow it with `razar audit --incident %s`)", incident)
	case err != nil:
		return err
	case rec.State == razar.IncidentHealed:
		return nil
	}
	return failed("incident %s %s: %s", incident, rec.State, rec.Reason)
}

// DaemonVerb sends a verb about RAZAR itself (reload, resume, detach) and
// prints its answer.
func (c *Client) DaemonVerb(ctx context.Context, verb bus.Verb, natsURL string) error {
	nc, err := c.Connect(ctx, natsURL, "razar-cli", c.Logger())
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := bus.Command(cctx, nc, verb, bus.AllComponents, &bus.LifecycleRequest{Actor: c.Actor()})
	if err != nil {
		return ReplyErr(bus.AllComponents, rep, err)
	}
	fmt.Fprintln(c.Stdout, rep.Message)
	return nil
}

// Resume asks the running RAZAR to take its halted boot cycle on.
func (c *Client) Resume(ctx context.Context, natsURL string) error {
	err := c.DaemonVerb(ctx, bus.VerbResume, natsURL)
	var ee *ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Code == 2) && c.notRunning(err) {
		return failed("%v (RAZAR is not running, so no halted cycle waits: `razar boot` starts a new one)", err)
	}
	return err
}
