package orchestrator

import (
	"context"
	"time"

	"github.com/razar/razar/bus"
)

// Handshake rungs: Crown answers the mission brief; when it cannot, the boot
// falls back to Kimi-cho and goes on.
const (
	HandshakeAgent  = "crown"
	FallbackAgent   = "kimicho"
	DialoguesFile   = "logs/razar_crown_dialogues.json"
	handshakeWindow = 5 * time.Second
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
	for id := range s.orch.runningIncidents() {
		brief.OpenIncidents = append(brief.OpenIncidents, id)
	}
	briefData, _ := bus.Encode(brief)
	s.orch.audit(ctx, &bus.AuditRecord{Event: bus.EventHandshake, Component: SystemComponent, Role: "razar", Agent: HandshakeAgent,
		Message: "mission brief for boot cycle " + brief.Cycle, Data: briefData}, "")

	hctx, cancel := context.WithTimeout(ctx, handshakeWindow)
	defer cancel()
	var ack bus.HandshakeAck
	if err := bus.Ask(hctx, s.store.Conn(), bus.HandshakeSubject(HandshakeAgent), brief, &ack); err != nil {
		msg := "Crown did not answer the mission brief (" + err.Error() + "); falling back to Kimi-cho for this boot cycle"
		s.orch.audit(ctx, &bus.AuditRecord{Event: bus.EventHandshake, Component: SystemComponent, Role: "razar", Agent: FallbackAgent,
			Status: "fallback", Message: msg}, "")
		s.log.Warn().Err(err).Msg("Crown handshake: no answer; falling back to Kimi-cho")
		return
	}
	ackData, _ := bus.Encode(&ack)
	status := "ack"
	if !ack.Ack {
		status = "nack"
	}
	rec := &bus.AuditRecord{Event: bus.EventHandshake, Component: SystemComponent, Role: "crown", Agent: HandshakeAgent,
		Status: status, Message: ack.Message, IdentityFingerprint: ack.IdentityFingerprint, Data: ackData}
	if ack.IdentityFingerprint == nil {
		rec.Reason = ack.IdentityError
	}
	s.orch.audit(ctx, rec, "")
	s.log.Info().Str("cycle", brief.Cycle).Str("identity_error", ack.IdentityError).Msg("Crown acknowledged the mission brief")
}
