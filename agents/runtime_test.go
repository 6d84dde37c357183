package agents

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// TestRedeliveredAttemptAnsweredOnce: a rung process took an attempt,
// published its answer and died before acking. The attempt comes back to
// the next process, which sees the answer on the stream and acks without
// running the backend again.
func TestRedeliveredAttemptAnsweredOnce(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	const ackWait = time.Second
	if err := env.Store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	esc := &bus.Escalation{Incident: "inc-1", Component: "web", Error: "down", Attempt: 1, Rung: "k2", Pass: 1,
		Deadline: time.Now().Add(time.Minute), Context: []razar.Attempt{}}
	if err := env.Store.Publish(ctx, bus.EscalateSubject("k2"), bus.EscalationMsgID("inc-1", 1), esc); err != nil {
		t.Fatal(err)
	}
	// The process that dies: it takes the attempt and answers, but never acks.
	js, err := natsjs.New(env.NATS)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, bus.StreamName, bus.ConsumerName("k2"))
	if err != nil {
		t.Fatal(err)
	}
	// Shorten the ack wait so the redelivery comes soon.
	info, _ := cons.Info(ctx)
	cfg := info.Config
	cfg.AckWait = ackWait
	if _, err := js.UpdateConsumer(ctx, bus.StreamName, cfg); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, natsjs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	if got != 1 {
		t.Fatalf("the dying process fetched %d messages", got)
	}
	res := &bus.Result{Incident: "inc-1", Attempt: 1, Rung: "k2", Status: razar.StatusNoFix, Summary: "first answer"}
	if err := env.Store.Publish(ctx, bus.ResultSubject("inc-1", "k2"), bus.ResultMsgID("inc-1", 1), res); err != nil {
		t.Fatal(err)
	}

	var calls atomic.Int32
	rt, err := New(env.Store, Config{Name: "k2", AckWait: ackWait, Heartbeat: time.Hour, Log: zerolog.Nop(),
		Load: func(context.Context) (razar.Agent, error) {
			return razar.AgentFunc(func(context.Context, razar.Task) (razar.Fix, error) {
				calls.Add(1)
				return razar.Fix{Status: razar.StatusNoFix, Summary: "second answer"}, nil
			}), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(rctx) }()
	defer func() { cancel(); <-done }()

	// The redelivered attempt is acked: nothing pending, nothing waiting for an ack.
	bustest.Eventually(t, 20*time.Second, func() bool {
		drained, err := env.Store.Drained(ctx, bus.ConsumerName("k2"))
		if err != nil || !drained {
			return false
		}
		i, err := cons.Info(ctx)
		return err == nil && i.NumRedelivered == 0 && i.AckFloor.Consumer >= 1
	}, "the redelivered attempt was not settled")
	if n := calls.Load(); n != 0 {
		t.Fatalf("the backend ran %d times for an attempt already answered", n)
	}
	var results int
	_ = env.Store.Scan(ctx, bus.ResultSubject("inc-1", "k2"), time.Time{}, false, func(uint64, string, []byte) error { results++; return nil })
	if results != 1 {
		t.Fatalf("%d results on the stream, want 1", results)
	}
}

// startRung runs a k2 runtime on its own connection, as one rung process
// whose environment is env, until the test ends.
func startRung(t *testing.T, env *bustest.Env, host, rosterPath, home string, procEnv map[string]string) *Runtime {
	t.Helper()
	store, err := jetstream.Open(context.Background(), env.Conn(t, "rung-"+host))
	if err != nil {
		t.Fatal(err)
	}
	lookup := lookupOf(procEnv)
	rt, err := New(store, Config{Name: "k2", Host: host, Heartbeat: time.Hour, Log: zerolog.Nop(),
		Load: RosterLoader(rosterPath, home, k2Rung, lookup), Probe: RosterProber(rosterPath, home, k2Rung, lookup)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return rt
}

// Every running process of a rung answers a probe, each from its own
// environment: the process that has the new variable is ready with the
// candidate roster, the one that lacks it says which variable; neither
// switches to the candidate, and a rung with no process gets no answer,
// at once.
func TestProbeIsAnsweredByEveryProcessFromItsOwnEnvironment(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	if err := env.Store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	const current = `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "k2.sh"]}]}`
	rosterPath := writeRoster(t, home, current)
	withKey := startRung(t, env, "node-a:1", rosterPath, home, map[string]string{"KIMI2_API_KEY_2026_12": "sk-rung-env-key-4242"})
	without := startRung(t, env, "node-b:2", rosterPath, home, nil)

	candidate := json.RawMessage(`{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "k2.sh"],
		"auth": {"type": "bearer", "token": "${KIMI2_API_KEY_2026_12}"}}]}`)
	var answers []bus.ProbeReply
	bustest.Eventually(t, 10*time.Second, func() bool {
		var err error
		answers, err = bus.Probe(ctx, env.NC, "k2", &bus.ProbeRequest{Roster: candidate}, 500*time.Millisecond)
		return err == nil && len(answers) == 2
	}, "two k2 processes did not both answer the probe: %+v", answers)
	byHost := map[string]bus.ProbeReply{}
	for _, a := range answers {
		byHost[a.Host] = a
	}
	if a := byHost["node-a:1"]; !a.Ready || !a.Candidate || a.Rung != "k2" || a.PID != os.Getpid() {
		t.Errorf("process with the key: %+v, want ready about the candidate", a)
	}
	b := byHost["node-b:2"]
	if b.Ready || !strings.Contains(b.Reason, "credential variable KIMI2_API_KEY_2026_12 is unset") {
		t.Errorf("process without the key: %+v, want not ready naming the variable", b)
	}
	for _, a := range answers {
		if strings.Contains(a.Reason, "sk-rung-env-key") {
			t.Errorf("an answer holds the key: %+v", a)
		}
	}
	// Nothing switched: both still run the roster file as loaded.
	if withKey.Ready() != nil || without.Ready() != nil {
		t.Errorf("a probe changed what a process runs: %v, %v", withKey.Ready(), without.Ready())
	}
	// Without a roster the question is about the roster file as it is now.
	cur, err := bus.Probe(ctx, env.NC, "k2", nil, 500*time.Millisecond)
	if err != nil || len(cur) != 2 || !cur[0].Ready || !cur[1].Ready || cur[0].Candidate {
		t.Errorf("probe of the current roster: %+v %v", cur, err)
	}
	// An oversized candidate is refused by the process, which says why.
	raw := []byte(`{"v":1,"roster":{"agents":[],"pad":"` + strings.Repeat("x", bus.MaxProbeRosterBytes) + `"}}`)
	msg, err := env.NATS.Request(bus.ProbeSubject("k2"), raw, 5*time.Second)
	var rep bus.ProbeReply
	if err != nil || bus.Decode(msg.Data, &rep) != nil || rep.Ready || !strings.Contains(rep.Reason, "over the") {
		t.Errorf("oversized probe: %v %+v", err, rep)
	}
	// No process of airstar runs: no answer, without waiting out the window.
	start := time.Now()
	none, err := bus.Probe(ctx, env.NC, "airstar", nil, 10*time.Second)
	if err != nil || len(none) != 0 {
		t.Fatalf("probe of a rung with no process: %+v %v", none, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("probe of a rung with no process took %v; the no-responders status should end it", took)
	}
}

// A process answers probes from before it reports its readiness, so a
// tool that sees its heartbeat (or agent.<name>, which the orchestrator
// writes from it) can ask the process at once, without retrying.
func TestProbeAnsweredOnceTheRungHeartbeats(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	if err := env.Store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var beats []bus.Heartbeat
	stop, err := bus.Serve(env.NC, bus.HeartbeatSubject("k2"), func(m *bus.Request) {
		var hb bus.Heartbeat
		if bus.Decode(m.Data, &hb) == nil {
			mu.Lock()
			beats = append(beats, hb)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	home := t.TempDir()
	rosterPath := writeRoster(t, home, `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "k2.sh"]}]}`)
	startRung(t, env, "node-a:1", rosterPath, home, nil)
	bustest.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(beats) > 0 && beats[0].Host == "node-a:1"
	}, "k2 never sent its heartbeat")
	answers, err := bus.Probe(ctx, env.NC, "k2", nil, 500*time.Millisecond)
	if err != nil || len(answers) != 1 || !answers[0].Ready {
		t.Fatalf("probe right after the status record: %+v %v", answers, err)
	}
}

// TestResultCarriesTheModelsUsage: the tokens a backend reports are on
// the published result, for a fix and for a failed attempt alike.
func TestResultCarriesTheModelsUsage(t *testing.T) {
	env := bustest.New(t)
	ctx := context.Background()
	if err := env.Store.EnsureAgentConsumer(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	answers := map[string]func() (razar.Fix, error){
		"inc-fix": func() (razar.Fix, error) {
			return razar.Fix{Status: razar.StatusNoFix, Summary: "nothing", Usage: razar.Usage{Prompt: 1200, Completion: 80}}, nil
		},
		"inc-err": func() (razar.Fix, error) {
			return razar.Fix{Usage: razar.Usage{Prompt: 900, Completion: 40}}, os.ErrDeadlineExceeded
		},
	}
	rt, err := New(env.Store, Config{Name: "k2", Heartbeat: time.Hour, Log: zerolog.Nop(),
		Load: func(context.Context) (razar.Agent, error) {
			return razar.AgentFunc(func(_ context.Context, task razar.Task) (razar.Fix, error) { return answers[task.Incident]() }), nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(rctx) }()
	defer func() { cancel(); <-done }()
	for inc := range answers {
		esc := &bus.Escalation{Incident: inc, Component: "web", Error: "down", Attempt: 1, Rung: "k2", Pass: 1,
			Deadline: time.Now().Add(time.Minute), Context: []razar.Attempt{}}
		if err := env.Store.Publish(ctx, bus.EscalateSubject("k2"), bus.EscalationMsgID(inc, 1), esc); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]razar.Usage{"inc-fix": {Prompt: 1200, Completion: 80}, "inc-err": {Prompt: 900, Completion: 40}}
	for inc, u := range want {
		var res bus.Result
		bustest.Eventually(t, 20*time.Second, func() bool {
			data, err := env.Store.LastResult(ctx, inc, "k2")
			return err == nil && data != nil && bus.Decode(data, &res) == nil
		}, "no result for %s", inc)
		if res.Usage == nil || *res.Usage != u {
			t.Errorf("%s: result usage = %+v, want %+v", inc, res.Usage, u)
		}
	}
}
