package supervisor

import (
	"context"
	"errors"
	"time"

	"github.com/razar/razar/bus"
)

// Handshake rungs: Crown answers the mission brief; when it cannot, the boot
// falls back to Kimi-cho and goes on.
const (
	HandshakeAgent = "crown"
	FallbackAgent  = "kimicho"
)

// handshake sends Crown the mission brief and records both sides of the
// dialogue. It never fails the boot.
func (s *Supervisor) handshake(ctx context.Context) {
	s.mu.Lock()
	brief := &bus.MissionBrief{Cycle: s.cycle, Components: []bus.BriefComponent{}, OpenIncidents: []string{}, Time: time.Now().UTC()}
	for _, c := range s.comps {
		brief.Components = append(brief.Components, bus.BriefComponent{Name: c.spec.Name, Priority: c.spec.Priority, Chakra: c.spec.Chakra})
	}
	s.mu.Unlock()
	for _, c := range brief.Components {
		if id, _ := s.esc.OpenIncident(c.Name); id != "" {
			brief.OpenIncidents = append(brief.OpenIncidents, id)
		}
	}
	briefData, _ := bus.Encode(brief)
	s.audit(ctx, &bus.AuditRecord{Event: bus.EventHandshake, Component: bus.SystemComponent, Role: "razar", Agent: HandshakeAgent,
		Message: "mission brief for boot cycle " + brief.Cycle, Data: briefData})

	hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeWait)
	defer cancel()
	var ack bus.HandshakeAck
	if err := s.askCrown(hctx, brief, &ack); err != nil {
		msg := "Crown did not answer the mission brief (" + err.Error() + "); falling back to Kimi-cho for this boot cycle"
		s.audit(ctx, &bus.AuditRecord{Event: bus.EventHandshake, Component: bus.SystemComponent, Role: "razar", Agent: FallbackAgent,
			Status: "fallback", Message: msg})
		s.log.Warn().Err(err).Msg("Crown handshake: no answer; falling back to Kimi-cho")
		return
	}
	ackData, _ := bus.Encode(&ack)
	status := "ack"
	if !ack.Ack {
		status = "nack"
	}
	rec := &bus.AuditRecord{Event: bus.EventHandshake, Component: bus.SystemComponent, Role: "crown", Agent: HandshakeAgent,
		Status: status, Message: ack.Message, IdentityFingerprint: ack.IdentityFingerprint, Data: ackData}
	if ack.IdentityFingerprint == nil {
		rec.Reason = ack.IdentityError
	}
	s.audit(ctx, rec)
	s.log.Info().Str("cycle", brief.Cycle).Str("identity_error", ack.IdentityError).Msg("Crown acknowledged the mission brief")
}

// askCrown sends the brief and waits for Crown's answer. Crown's
// subscription may not be in place yet (an in-process rung starting beside
// the boot, a rung process reconnecting): while nothing listens, the brief
// is sent again until ctx ends, so the fallback fires only when Crown truly
// does not answer.
func (s *Supervisor) askCrown(ctx context.Context, brief *bus.MissionBrief, ack *bus.HandshakeAck) error {
	wait := 20 * time.Millisecond
	for {
		err := bus.Ask(ctx, s.store.Conn(), bus.HandshakeSubject(HandshakeAgent), brief, ack)
		if !errors.Is(err, bus.ErrNoResponder) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}
