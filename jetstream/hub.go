package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/backoff"
)

// HubStream is the name of the stream on a hub that sources stream RAZAR
// of the leaf host in JetStream domain host.
func HubStream(host string) string { return bus.StreamName + "_" + host }

// HubSourceConfig is the hub's stream HubStream(host): no subjects of its
// own, every record of the host's stream RAZAR (escalations and the audit
// trail; the rungs' answers stay on the host, in RAZAR_RESULTS, and reach
// the record as attempt and patch records), sourced across the leaf link
// by the host's domain. Sourcing resumes where it stopped after the link
// comes back.
//
// The filter ">" takes every record, as no filter would, and has the hub
// create its sourcing consumer by the named request the leaf link lets
// through (LeafDeny); without it the hub would use the legacy request,
// which the link refuses.
func HubSourceConfig(host string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        HubStream(host),
		Description: "RAZAR records of leaf host " + host + ", sourced from its stream " + bus.StreamName,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Sources:     []*jetstream.StreamSource{{Name: bus.StreamName, Domain: host, FilterSubject: hubSourceFilter}},
	}
}

// hubSourceFilter is the filter of the hub's source of stream RAZAR: all of it.
const hubSourceFilter = ">"

// HubSourceJSON is HubSourceConfig(host) as the stream configuration
// file `nats stream add --config` takes.
func HubSourceJSON(host string) string {
	return fmt.Sprintf(`{"name": %q, "storage": "file", "retention": "limits", "sources": [{"name": %q, "filter_subject": %q, "external": {"api": "$JS.%s.API"}}]}`,
		HubStream(host), bus.StreamName, hubSourceFilter, host)
}

// HubSourceCommand is the shell command a hub operator runs to declare
// HubStream(host) in the hub's domain by hand, when RAZAR may not.
func HubSourceCommand(hub, host string) string {
	return fmt.Sprintf("echo '%s' > %s.json && nats --js-domain %s stream add --config %s.json", HubSourceJSON(host), HubStream(host), hub, HubStream(host))
}

// HubSourceError is the hub's JetStream refusing to declare the host's
// stream: the hub operator declares it (Command) or lets the leaf
// credential do so.
type HubSourceError struct {
	Hub, Host string
	Err       error
}

func (e *HubSourceError) Error() string {
	return fmt.Sprintf("the hub (JetStream domain %s) refused stream %s: %v; fix: let the leaf credential's account create streams there, or have the hub operator run: %s",
		e.Hub, HubStream(e.Host), e.Err, HubSourceCommand(e.Hub, e.Host))
}

func (e *HubSourceError) Unwrap() error { return e.Err }

// sourceRetry paces SourceOnHub while the hub cannot be reached.
var sourceRetry = backoff.Backoff{Base: time.Second, Max: 30 * time.Second}

// SourceOnHub declares, through the leaf link, the stream HubStream(host)
// in the hub's JetStream domain hub (HubSourceConfig), unless a stream of
// that name is there already (a hub operator's own, e.g. with replicas).
// While the hub does not answer (the link is down, the hub's JetStream is
// electing a leader, or the leaf credential may not publish the request,
// which the hub then drops unanswered) it retries until ctx ends, then
// returns ctx's error; waiting, when not nil, hears of each unanswered
// attempt n. A refusal by the hub's JetStream is a *HubSourceError.
// created says whether this call made the stream.
func SourceOnHub(ctx context.Context, conn *bus.Conn, hub, host string, waiting func(n int, err error)) (created bool, err error) {
	js, err := jetstream.NewWithDomain(conn.NATS(), hub)
	if err != nil {
		return false, fmt.Errorf("jetstream domain %s: %w", hub, err)
	}
	for n := 1; ; n++ {
		created, err = sourceOnce(ctx, js, host)
		if err == nil || !hubUnreachable(err) {
			if err != nil {
				err = &HubSourceError{Hub: hub, Host: host, Err: err}
			}
			return created, err
		}
		if waiting != nil {
			waiting(n, err)
		}
		t := time.NewTimer(sourceRetry.Jittered(sourceRetry.For(n), 0.2))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

func sourceOnce(ctx context.Context, js jetstream.JetStream, host string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if st, err := js.Stream(ctx, HubStream(host)); err == nil {
		return false, upgradeSource(ctx, js, st, host)
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return false, err
	}
	if _, err := js.CreateStream(ctx, HubSourceConfig(host)); err != nil {
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return false, nil // declared meanwhile, by the hub or another boot
		}
		return false, err
	}
	return true, nil
}

// upgradeSource gives the filter ">" to a hub stream's unfiltered source
// of the host's stream RAZAR, declared before the leaf link refused the
// legacy consumer request: without it the source stalls. The filter
// changes nothing of what is sourced, nor where sourcing resumes (the
// server names a source by its filter, an empty one as ">").
func upgradeSource(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, host string) error {
	cfg := st.CachedInfo().Config
	changed := false
	for _, src := range cfg.Sources {
		if src.Name == bus.StreamName && src.FilterSubject == "" && len(src.SubjectTransforms) == 0 &&
			(src.Domain == host || src.External != nil && src.External.APIPrefix == "$JS."+host+".API") {
			src.FilterSubject, changed = hubSourceFilter, true
		}
	}
	if !changed {
		return nil
	}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("give its source of stream %s the filter %q, which the leaf link needs: %w", bus.StreamName, hubSourceFilter, err)
	}
	return nil
}

// hubUnreachable says whether err means the hub did not answer (yet),
// rather than that it refused.
func hubUnreachable(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.Code == 503 // JetStream is there but has no leader yet
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionReconnecting)
}
