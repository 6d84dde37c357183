package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/razar/razar"
)

// DefaultToolTimeout bounds one context tool call when ctx has no
// deadline; a check (staging and validating a diff) may take this long.
const DefaultToolTimeout = 2 * time.Minute

// Tools returns rung's tools for its pending attempt on incident: each Call
// sends a ContextRequest on razar.context.<incident>.<rung> over c and
// decodes the ContextReply. A refusal is a reply with OK false; an error
// means no answer came (no orchestrator serving, the server's permissions,
// the deadline).
func Tools(c *Conn, incident, rung string) razar.Tools {
	subj := ContextSubject(incident, rung)
	return razar.ToolsFunc(func(ctx context.Context, req razar.ToolRequest) (razar.ToolReply, error) {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DefaultToolTimeout)
			defer cancel()
		}
		body, err := Encode(&ContextRequest{ToolRequest: req})
		if err != nil {
			return razar.ToolReply{}, err
		}
		ctx, stop := c.watchDenied(ctx, subj)
		defer stop()
		msg, err := c.nc.RequestWithContext(ctx, subj, body)
		if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrForbidden) {
			return razar.ToolReply{}, fmt.Errorf("%s: %w (fix: the rung's own identity, state/identities/%s.creds)", subj, cause, rung)
		}
		if err != nil {
			if errors.Is(err, nats.ErrNoResponders) {
				return razar.ToolReply{}, fmt.Errorf("%s: no orchestrator serves the context tools: %w", subj, err)
			}
			return razar.ToolReply{}, fmt.Errorf("%s: %w", subj, err)
		}
		var rep ContextReply
		if err := Decode(msg.Data, &rep); err != nil {
			return razar.ToolReply{}, fmt.Errorf("%s: %w", subj, err)
		}
		return rep.ToolReply, nil
	})
}
