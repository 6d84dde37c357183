package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// BriefComponent is one component in a mission brief.
type BriefComponent struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Chakra   string `json:"chakra,omitempty"`
}

// MissionBrief is what RAZAR tells Crown at the start of a boot cycle.
type MissionBrief struct {
	versioned
	Cycle         string           `json:"cycle"`
	Components    []BriefComponent `json:"components"`
	OpenIncidents []string         `json:"open_incidents"`
	Time          time.Time        `json:"time"`
}

// Kind implements Payload.
func (*MissionBrief) Kind() string { return "mission brief" }

// Check implements Payload.
func (b *MissionBrief) Check() error {
	if b.Cycle == "" {
		return fieldErr("cycle", "missing")
	}
	return nil
}

// Fingerprint identifies the identity summary an acknowledgement came from.
type Fingerprint struct {
	SHA256   string `json:"sha256"`
	Modified string `json:"modified"` // RFC 3339, UTC
	Path     string `json:"path,omitempty"`
}

// HandshakeAck is Crown's answer to a mission brief.
type HandshakeAck struct {
	versioned
	Agent        string   `json:"agent"`
	Ack          bool     `json:"ack"`
	Message      string   `json:"message,omitempty"`
	Capabilities []string `json:"capabilities"`
	// IdentityFingerprint is the digest of data/identity.json, or nil with
	// IdentityError saying why (the file is missing, say).
	IdentityFingerprint *Fingerprint `json:"identity_fingerprint"`
	IdentityError       string       `json:"identity_error,omitempty"`
	Time                time.Time    `json:"time"`
}

// Kind implements Payload.
func (*HandshakeAck) Kind() string { return "handshake ack" }

// Check implements Payload.
func (a *HandshakeAck) Check() error {
	if a.Agent == "" {
		return fieldErr("agent", "missing")
	}
	return nil
}

// ErrNoResponder is returned by Ask when nothing serves the subject.
var ErrNoResponder = errors.New("no process answers")

// Ask sends req as a core request on subject and decodes the reply into rep.
// No responder is ErrNoResponder; ctx bounds the wait.
func Ask(ctx context.Context, c *Conn, subject string, req, rep Payload) error {
	data, err := Encode(req)
	if err != nil {
		return err
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("%s: %w", subject, ErrNoResponder)
		}
		return fmt.Errorf("%s: %w", subject, err)
	}
	return Decode(msg.Data, rep)
}
