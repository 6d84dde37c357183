package host

import (
	"context"
	"fmt"
	"time"

	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
)

// openTrust opens the home's identities (state/identities/), mints the
// missing standard ones, and returns what the embedded server trusts.
func (h *Host) openTrust(roster *config.Roster) (*auth.ServerTrust, error) {
	trust, err := auth.Open(h.home().Identities())
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	if moved := trust.Moved(); len(moved) > 0 {
		h.log.Info().Strs("files", moved).Str("to", trust.Root()).Msg("moved the trust root out of state/identities/, which operators hand out, into its own directory")
	}
	done, err := trust.Ensure(rosterNames(roster))
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	if len(done.Minted) > 0 {
		h.log.Info().Strs("identities", done.Minted).Str("dir", h.home().Identities()).Msg("minted NATS identities")
	}
	if len(done.Renewed) > 0 {
		h.log.Info().Strs("identities", done.Renewed).Msg("renewed people's standard identities that were about to expire (same keys, new expiry)")
	}
	st, err := trust.Server()
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	h.trust = trust
	return st, nil
}

// renewInterval is how often a running RAZAR renews the host's standard
// people's identities, so one running for months keeps a usable
// operator.creds (auth.Trust.Ensure renews in the last 30 days).
const renewInterval = 12 * time.Hour

// renewIdentities renews the host's standard operator and observer in
// their last days, every renewInterval, until ctx ends.
func (h *Host) renewIdentities(ctx context.Context) {
	t := time.NewTicker(renewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		done, err := h.trust.Ensure(rosterNames(h.roster.Load()))
		if err != nil {
			h.log.Error().Err(err).Msg("could not renew the standard identities")
			continue
		}
		if len(done.Renewed) > 0 {
			h.log.Info().Strs("identities", done.Renewed).Msg("renewed people's standard identities that were about to expire (same keys, new expiry)")
		}
	}
}

// identifier is how the lifecycle server knows who sent a request. On the
// embedded bus: the JWT the server puts in Nats-Request-Info, verified
// against account RAZAR. On an external bus with a control identity: the
// same, against the key that signed RAZAR's own identity (identities
// signed by another key of that account are not trusted). Without one, requests
// are unauthenticated; approvals are then refused.
func (h *Host) identifier(orchCreds, ctrlCreds string) (func(bus.RequestInfo) (auth.Identity, error), error) {
	if h.trust != nil {
		return func(ri bus.RequestInfo) (auth.Identity, error) { return h.trust.Identify(ri.JWT, ri.User) }, nil
	}
	if ctrlCreds == "" || orchCreds == "" {
		h.log.Warn().Msg("SECURITY: no control identity for this external bus (state/trust/control.creds): lifecycle commands carry no authenticated identity and approvals are refused; see docs/SECURITY.md")
		return nil, nil
	}
	signers, err := auth.SignerOf(orchCreds)
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	return func(ri bus.RequestInfo) (auth.Identity, error) { return auth.IdentifyJWT(ri.JWT, ri.User, signers...) }, nil
}
