package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// The attacks of issue 9, replayed from outside as a client of the bus
// would: each asserts the denial and that nothing changed.

// attacker is a client of a booted RAZAR's bus as one identity of its home
// ("" for none), with the server's asynchronous errors (permission
// violations) collected.
type attacker struct {
	nc   *nats.Conn
	mu   sync.Mutex
	errs []string
}

func dialAs(t *testing.T, h, url, ident string, opts ...nats.Option) (*attacker, error) {
	t.Helper()
	a := &attacker{}
	opts = append(opts, nats.Name("attacker-"+ident), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err.Error())
		a.mu.Unlock()
	}))
	if ident != "" {
		opts = append(opts, nats.UserCredentials(filepath.Join(h, "state/identities", ident+".creds")))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	a.nc = nc
	t.Cleanup(nc.Close)
	return a, nil
}

func mustDial(t *testing.T, h, url, ident string, opts ...nats.Option) *attacker {
	t.Helper()
	a, err := dialAs(t, h, url, ident, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", ident, err)
	}
	return a
}

// violated waits until the server has reported a permissions violation
// naming subject.
func (a *attacker) violated(t *testing.T, subject string) {
	t.Helper()
	bustest.Eventually(t, 5*time.Second, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, e := range a.errs {
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, subject) {
				return true
			}
		}
		return false
	}, "no permissions violation for %s; errors: %v", subject, bustest.Lazy(func() string {
		a.mu.Lock()
		defer a.mu.Unlock()
		return strings.Join(a.errs, "; ")
	}))
}

// deniedRequest sends a request the server must refuse to deliver: the
// server reports the violation, and no answer comes (the state checks of
// each attack are the proof that nothing happened).
func (a *attacker) deniedRequest(t *testing.T, subject string, body []byte) {
	t.Helper()
	inbox := a.nc.NewRespInbox()
	sub, err := a.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := a.nc.PublishRequest(subject, inbox, body); err != nil {
		t.Fatal(err)
	}
	a.violated(t, subject)
	if m, err := sub.NextMsg(250 * time.Millisecond); err == nil {
		t.Fatalf("%s was answered: %s", subject, m.Data)
	}
}

// streamState is what the orchestrator's store holds, as its own identity reads it.
func streamState(t *testing.T, js natsjs.JetStream, name string) natsjs.StreamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State
}

const attackRoster = `{"agents": [
  {"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["false"], "timeout": "60s"},
  {"name": "rstar", "backend": "exec", "command": ["false"], "takeover": true}
]}`

// bootForAttack boots RAZAR with external rungs (so nothing but the test
// touches the ladder) and returns the home, the URL and the orchestrator's
// JetStream view for the "nothing changed" checks.
func bootForAttack(t *testing.T) (string, string, natsjs.JetStream) {
	t.Helper()
	h := home(t, attackRoster, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--agents", "external")
	bustest.Eventually(t, 20*time.Second, func() bool { return componentStatus(t, h, "web") == bus.StatusHealthy }, "web never became healthy")
	owner := mustDial(t, h, url, "orchestrator")
	js, err := natsjs.New(owner.nc)
	if err != nil {
		t.Fatal(err)
	}
	return h, url, js
}

// TestAttacksFromOutside replays the bus attacks against one booted RAZAR,
// in an order where each leaves the state the next one checks: the stop
// the operator may send comes last.
func TestAttacksFromOutside(t *testing.T) {
	h, url, js := bootForAttack(t)
	for _, a := range []struct {
		name string
		run  func(t *testing.T, h, url string, js natsjs.JetStream)
	}{
		{"AnonymousClientsAreRefused", anonymousClientsAreRefused},
		{"RungCannotForgeAnotherRungsResultOrStealItsAttempts", rungCannotForgeAnotherRungsResultOrStealItsAttempts},
		{"RungCannotSendLifecycleCommandsOrAnswerCrownsHandshake", rungCannotSendLifecycleCommandsOrAnswerCrownsHandshake},
		{"ReadersCannotPurgeDeleteOrWriteState", readersCannotPurgeDeleteOrWriteState},
		{"ObserverMayReadAndAskStatusOnly", observerMayReadAndAskStatusOnly},
		{"ObserversRazarStopIsRefusedAtOnce", observersRazarStopIsRefusedAtOnce},
		{"ApprovalNeedsAnOperatorIdentity", approvalNeedsAnOperatorIdentity},
		{"LifecycleActorIsTheAuthenticatedIdentity", lifecycleActorIsTheAuthenticatedIdentity},
	} {
		t.Run(a.name, func(t *testing.T) { a.run(t, h, url, js) })
	}
}

// anonymousClientsAreRefused: without an identity the embedded bus
// does not let a client in at all, so none of the anonymous attacks
// (forged results, approvals, lifecycle commands, purges) can start.
func anonymousClientsAreRefused(t *testing.T, h, url string, _ natsjs.JetStream) {
	_, err := dialAs(t, h, url, "", nats.NoReconnect())
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}
	_, err = dialAs(t, h, url, "", nats.UserInfo("razar", "razar"), nats.NoReconnect())
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect with a made-up user: %v, want an authorization violation", err)
	}
}

// rungCannotForgeAnotherRungsResultOrStealItsAttempts: the k2 identity
// may not publish rStar's results, pull rStar's consumer, read rStar's last
// result or declare a consumer of its own; the stream holds no such result
// and rStar's consumer is untouched.
func rungCannotForgeAnotherRungsResultOrStealItsAttempts(t *testing.T, h, url string, js natsjs.JetStream) {
	k2 := mustDial(t, h, url, "k2", nats.CustomInboxPrefix("_INBOX.k2"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("rstar"))
	if err != nil {
		t.Fatal(err)
	}
	before := cons.CachedInfo()

	forged := bus.ResultSubject("inc-20261201-000000-abcdef", "rstar")
	if err := k2.nc.Publish(forged, []byte(`{"v":1,"status":"fixed","summary":"pwned","diff":"x"}`)); err != nil {
		t.Fatal(err)
	}
	k2.violated(t, forged)
	k2.deniedRequest(t, "$JS.API.CONSUMER.MSG.NEXT.RAZAR.agent_rstar", []byte(`{"batch":1,"expires":1000000000}`))
	k2.deniedRequest(t, "$JS.API.DIRECT.GET.RAZAR."+forged, nil)
	k2.deniedRequest(t, "$JS.API.DIRECT.GET.RAZAR_RESULTS."+forged, nil)
	k2.deniedRequest(t, "$JS.API.CONSUMER.CREATE.RAZAR.thief.razar.escalate.rstar", []byte(`{"stream_name":"RAZAR","config":{"name":"thief","filter_subject":"razar.escalate.rstar"}}`))

	st, err := js.Stream(ctx, bus.StreamOf(forged))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetLastMsgForSubject(ctx, forged); !errors.Is(err, natsjs.ErrMsgNotFound) {
		t.Fatalf("the forged result is in the stream: %v", err)
	}
	after, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("rstar"))
	if err != nil {
		t.Fatal(err)
	}
	if a := after.CachedInfo(); a.Delivered != before.Delivered || a.NumAckPending != before.NumAckPending {
		t.Fatalf("rStar's consumer changed: delivered %+v -> %+v", before.Delivered, a.Delivered)
	}
	if _, err := js.Consumer(ctx, bus.StreamName, "thief"); !errors.Is(err, natsjs.ErrConsumerNotFound) {
		t.Fatalf("the thief's consumer exists: %v", err)
	}
}

// rungCannotSendLifecycleCommandsOrAnswerCrownsHandshake: the k2
// identity may not stop a component, approve a patch, or subscribe to
// Crown's handshake; the component keeps running.
func rungCannotSendLifecycleCommandsOrAnswerCrownsHandshake(t *testing.T, h, url string, _ natsjs.JetStream) {
	k2 := mustDial(t, h, url, "k2", nats.CustomInboxPrefix("_INBOX.k2"))
	k2.deniedRequest(t, bus.LifecycleSubject(bus.VerbStop, "web"), []byte(`{"v":1,"actor":"alice"}`))
	k2.deniedRequest(t, bus.LifecycleSubject(bus.VerbApprove, "web"), []byte(`{"v":1,"patch":"p-1","actor":"alice"}`))
	if _, err := k2.nc.Subscribe(bus.HandshakeSubject("crown"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	k2.violated(t, bus.HandshakeSubject("crown"))
	if _, err := k2.nc.Subscribe("razar.escalate.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	k2.violated(t, "razar.escalate.>")
	if st := componentStatus(t, h, "web"); st != bus.StatusHealthy {
		t.Fatalf("web is %q after the refused stop, want healthy", st)
	}
}

// readersCannotPurgeDeleteOrWriteState: neither the operator nor the
// observer may purge or delete the stream, delete a message, write or
// delete a bucket key, or touch a rung's consumer; the stream and the
// bucket are as they were.
func readersCannotPurgeDeleteOrWriteState(t *testing.T, h, url string, js natsjs.JetStream) {
	before := streamState(t, js, bus.StreamName)
	if before.Msgs == 0 {
		t.Fatal("the stream is empty: the boot should have recorded something")
	}
	for _, ident := range []string{"operator", "observer"} {
		a := mustDial(t, h, url, ident)
		a.deniedRequest(t, "$JS.API.STREAM.PURGE.RAZAR", nil)
		a.deniedRequest(t, "$JS.API.STREAM.DELETE.RAZAR", nil)
		a.deniedRequest(t, "$JS.API.STREAM.MSG.DELETE.RAZAR", []byte(`{"seq":1}`))
		a.deniedRequest(t, "$JS.API.STREAM.UPDATE.RAZAR", []byte(`{"name":"RAZAR","subjects":["x"]}`))
		a.deniedRequest(t, "$JS.API.STREAM.PURGE.KV_RAZAR_STATE", nil)
		a.deniedRequest(t, "$JS.API.STREAM.PURGE.RAZAR_RESULTS", nil)
		a.deniedRequest(t, "$JS.API.STREAM.DELETE.RAZAR_RESULTS", nil)
		a.deniedRequest(t, "$JS.API.STREAM.UPDATE.RAZAR_RESULTS", []byte(`{"name":"RAZAR_RESULTS","subjects":["razar.result.>"],"max_msgs_per_subject":1}`))
		a.deniedRequest(t, "$KV.RAZAR_STATE.incident.inc-20261201-000000-planted", []byte(`{"v":1,"id":"inc-20261201-000000-planted","component":"web","state":"open"}`))
		a.deniedRequest(t, "$JS.API.CONSUMER.DELETE.RAZAR.agent_k2", nil)
		a.deniedRequest(t, "$JS.API.CONSUMER.MSG.NEXT.RAZAR.agent_k2", []byte(`{"batch":1,"expires":1000000000}`))
		a.deniedRequest(t, "$JS.API.CONSUMER.CREATE.RAZAR.agent_k2.razar.escalate.k2", []byte(`{"stream_name":"RAZAR","config":{"durable_name":"agent_k2","filter_subject":"razar.escalate.k2"}}`))
		a.deniedRequest(t, "razar.result.inc-20261201-000000-abcdef.k2", []byte(`{"v":1,"status":"fixed"}`))
	}
	after := streamState(t, js, bus.StreamName)
	if after.FirstSeq != before.FirstSeq || after.Msgs < before.Msgs {
		t.Fatalf("stream RAZAR changed: %+v -> %+v", before, after)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bus.KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "incident.inc-20261201-000000-planted"); !errors.Is(err, natsjs.ErrKeyNotFound) {
		t.Fatalf("the planted incident is in the bucket: %v", err)
	}
	if _, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("k2")); err != nil {
		t.Fatalf("agent_k2 is gone: %v", err)
	}
}

// observerMayReadAndAskStatusOnly: the observer gets status and reads
// the stream, and the server refuses its stop; the component keeps running.
func observerMayReadAndAskStatusOnly(t *testing.T, h, url string, _ natsjs.JetStream) {
	obs := mustDial(t, h, url, "observer")
	m, err := obs.nc.Request(bus.LifecycleSubject(bus.VerbStatus, bus.AllComponents), nil, 5*time.Second)
	if err != nil {
		t.Fatalf("observer status: %v", err)
	}
	var rep bus.LifecycleReply
	if err := bus.Decode(m.Data, &rep); err != nil || !rep.OK {
		t.Fatalf("observer status reply %s: %v", m.Data, err)
	}
	ojs, err := natsjs.New(obs.nc)
	if err != nil {
		t.Fatal(err)
	}
	if st := streamState(t, ojs, bus.StreamName); st.Msgs == 0 {
		t.Fatal("the observer reads an empty stream")
	}
	obs.deniedRequest(t, bus.LifecycleSubject(bus.VerbStop, "web"), []byte(`{"v":1,"actor":"alice@ops-1"}`))
	if st := componentStatus(t, h, "web"); st != bus.StatusHealthy {
		t.Fatalf("web is %q after the refused stop, want healthy", st)
	}
}

// observersRazarStopIsRefusedAtOnce: `razar stop` run as the observer
// ends with the server's refusal, long before the command's two-minute
// timeout (the server tells of a denied publish only asynchronously), and
// the component keeps running.
func observersRazarStopIsRefusedAtOnce(t *testing.T, h, _ string, _ natsjs.JetStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, razarBin, "--home", h, "stop", "web", "--creds", filepath.Join(h, "state/identities/observer.creds")).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the observer's razar stop still waited after 30 s:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), "refused this identity's publish") {
		t.Fatalf("the observer's razar stop: %v, want the server's refusal:\n%s", err, out)
	}
	if st := componentStatus(t, h, "web"); st != bus.StatusHealthy {
		t.Fatalf("web is %q after the refused stop, want healthy", st)
	}
}

// lifecycleActorIsTheAuthenticatedIdentity: the operator's stop is
// recorded under the identity "operator" whatever actor the request types,
// and a Nats-Request-Info header the client forges is replaced by the
// server's.
func lifecycleActorIsTheAuthenticatedIdentity(t *testing.T, h, url string, js natsjs.JetStream) {
	op := mustDial(t, h, url, "operator")
	msg := nats.NewMsg(bus.LifecycleSubject(bus.VerbStop, "web"))
	msg.Data = []byte(`{"v":1,"actor":"alice@ops-1"}`)
	forged, _ := json.Marshal(map[string]string{"acc": "RAZAR", "user": "UALICE", "name_tag": "alice", "jwt": "forged"})
	msg.Header.Set("Nats-Request-Info", string(forged))
	m, err := op.nc.RequestMsg(msg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.LifecycleReply
	if err := bus.Decode(m.Data, &rep); err != nil || !rep.OK {
		t.Fatalf("operator stop: %s (%v)", m.Data, err)
	}
	rec := lastLifecycleRecord(t, js, "web")
	if rec.Actor != "operator" || rec.Verb != "stop" || rec.Status != "ok" {
		t.Fatalf("stop recorded as %+v, want actor operator (the identity), not the typed or forged name", rec)
	}
}

// approvalNeedsAnOperatorIdentity: the observer's approval of a patch
// is refused as forbidden before RAZAR looks for the patch.
func approvalNeedsAnOperatorIdentity(t *testing.T, h, url string, _ natsjs.JetStream) {
	obs := mustDial(t, h, url, "observer")
	obs.deniedRequest(t, bus.LifecycleSubject(bus.VerbApprove, "web"), []byte(`{"v":1,"patch":"p-1"}`))
	op := mustDial(t, h, url, "operator")
	m, err := op.nc.Request(bus.LifecycleSubject(bus.VerbApprove, "web"), []byte(`{"v":1,"patch":"p-1"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.LifecycleReply
	if err := bus.Decode(m.Data, &rep); err != nil || rep.OK || rep.Code == bus.CodeForbidden || !strings.Contains(rep.Error, "p-1") {
		t.Fatalf("operator approval of a missing patch: %s: want refused for the missing patch, not forbidden", m.Data)
	}
}

// componentStatus is one component's status as `razar status --json` reports it.
func componentStatus(t *testing.T, h, name string) string {
	t.Helper()
	out, _, _ := runCLI(t, "--home", h, "status", "--json")
	var v bus.StatusView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, c := range v.Mission.Components {
		if c.Name == name {
			return string(c.Status)
		}
	}
	t.Fatalf("no %s in status:\n%s", name, out)
	return ""
}

// lastLifecycleRecord is the newest lifecycle audit record of component.
func lastLifecycleRecord(t *testing.T, js natsjs.JetStream, component string) bus.AuditRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	var rec bus.AuditRecord
	bustest.Eventually(t, 5*time.Second, func() bool {
		m, err := st.GetLastMsgForSubject(ctx, bus.AuditSubject(component, bus.EventLifecycle))
		return err == nil && bus.Decode(m.Data, &rec) == nil
	}, "no lifecycle record for %s", component)
	return rec
}
