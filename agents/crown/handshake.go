package crown

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// Capabilities are what Crown tells RAZAR it can do.
var capabilities = []string{"triage", "runbook:port-in-use", "runbook:missing-file", "runbook:permission-denied", "runbook:stale-pid-or-lock"}

// Handshake returns Crown's answer to a mission brief: an acknowledgement,
// its capabilities, and the SHA-256 digest and last-modified time of
// home/data/identity.json, or the reason there is none.
func Handshake(home string) func(context.Context, *bus.MissionBrief) *bus.HandshakeAck {
	return func(_ context.Context, brief *bus.MissionBrief) *bus.HandshakeAck {
		ack := &bus.HandshakeAck{Agent: Name, Ack: true, Capabilities: capabilities, Time: time.Now().UTC(),
			Message: fmt.Sprintf("Crown acknowledges boot cycle %s: %d components, %d open incidents", brief.Cycle, len(brief.Components), len(brief.OpenIncidents))}
		fp, err := Fingerprint(razar.Home(home).IdentitySummary())
		if err != nil {
			ack.IdentityError = err.Error()
		} else {
			ack.IdentityFingerprint = fp
		}
		return ack
	}
}

// Fingerprint digests a file: SHA-256 and last-modified time (RFC 3339, UTC).
func Fingerprint(path string) (*bus.Fingerprint, error) {
	name := razar.Home("").IdentitySummary() // as the ack and its errors name it
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is missing", name)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &bus.Fingerprint{SHA256: hex.EncodeToString(h.Sum(nil)), Modified: st.ModTime().UTC().Format(time.RFC3339), Path: name}, nil
}
