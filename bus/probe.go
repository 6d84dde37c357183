package bus

import (
	"context"
	"fmt"
	"time"
)

// DefaultProbeWindow is how long Probe collects answers: every process of a
// rung answers at once (the check reads the roster and the process's
// environment, never the network), so a second is plenty.
const DefaultProbeWindow = time.Second

// Probe asks every running process of rung whether it could run with the
// roster of req (nil: the roster file as it is now) and returns the answers
// that arrive within window (DefaultProbeWindow when 0), in arrival order.
// No answer at all is not an error: no process of the rung is running. An
// answer that does not decode, or names another rung, comes back as a reply
// that is not ready and says why, so a broken process is never taken for a
// ready one. Probe returns early, with no answers, when the server reports
// that nothing subscribes to the rung's probe subject.
func Probe(ctx context.Context, c *Conn, rung string, req *ProbeRequest, window time.Duration) ([]ProbeReply, error) {
	if !ValidToken(rung) {
		return nil, fmt.Errorf("probe: rung %q is not a subject token", rung)
	}
	if req == nil {
		req = &ProbeRequest{}
	}
	if err := req.Check(); err != nil {
		return nil, fmt.Errorf("probe %s: %v", rung, err)
	}
	body, err := Encode(req)
	if err != nil {
		return nil, err
	}
	if window <= 0 {
		window = DefaultProbeWindow
	}
	subj := ProbeSubject(rung)
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("probe %s: subscribe: %w", rung, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := c.nc.PublishRequest(subj, inbox, body); err != nil {
		return nil, fmt.Errorf("probe %s: publish %s: %w", rung, subj, err)
	}
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var out []ProbeReply
	for {
		m, err := sub.NextMsgWithContext(wctx)
		if err != nil {
			if ctx.Err() != nil {
				return out, fmt.Errorf("probe %s: %w", rung, ctx.Err())
			}
			return out, nil // the window is over
		}
		if len(m.Data) == 0 && m.Header.Get("Status") == "503" {
			return out, nil // no responders: no process of the rung runs
		}
		var rep ProbeReply
		if err := Decode(m.Data, &rep); err != nil {
			out = append(out, ProbeReply{Rung: rung, Host: "?", Reason: "answered " + subj + " with a malformed reply: " + err.Error()})
			continue
		}
		if rep.Rung != rung {
			out = append(out, ProbeReply{Rung: rung, Host: rep.Host, PID: rep.PID, Reason: fmt.Sprintf("answered %s as rung %q", subj, Clip(rep.Rung, 64))})
			continue
		}
		out = append(out, rep)
	}
}
