package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/alert/alerttest"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream/bustest"
)

// The tests of a human rung (backend human): a person on call, paged on
// its turn and answered with razar ack|resolve|pass or the nats CLI.

// humanRoster is a roster whose first rung is a person; after it K2 fixes
// web (agents/fix.sh). extra goes into the human entry.
func humanRoster(extra string) string {
	return `{"agents": [
  {"name": "oncall", "display": "on-call human", "backend": "human"` + extra + `},
  {"name": "k2", "display": "K2 Coder", "backend": "exec", "command": ["sh", "agents/fix.sh"], "timeout": "10s"}
]}`
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// activeAlerts lists Alertmanager's active alerts.
func activeAlerts(am string) []amAlert {
	resp, err := http.Get(am + "/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=true")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var alerts []amAlert
	_ = json.NewDecoder(resp.Body).Decode(&alerts)
	return alerts
}

// openIncident is web's open incident as `razar status --json` reports it, or nil.
func openIncident(t *testing.T, h string) *bus.IncidentRecord {
	t.Helper()
	out, _ := exec.Command(razarBin, "--home", h, "status", "--json").Output()
	var v bus.StatusView
	if json.Unmarshal(out, &v) != nil {
		return nil
	}
	for _, r := range v.Incidents {
		if r.Component == "web" && r.State == "open" {
			return r
		}
	}
	return nil
}

// paged waits until web's incident has its pending attempt on the human
// rung, and returns the incident.
func paged(t *testing.T, h string, esc *proc) *bus.IncidentRecord {
	t.Helper()
	var rec *bus.IncidentRecord
	bustest.Eventually(t, 20*time.Second, func() bool {
		rec = openIncident(t, h)
		return rec != nil && rec.Pending != nil && rec.Pending.Rung == "oncall"
	}, "the human rung never held web's attempt; escalate:\n%s", esc.out)
	return rec
}

// mintIdentity makes a named identity of role in the home.
func mintIdentity(t *testing.T, h, name, role string) string {
	t.Helper()
	if out, code := runRazar(t, h, nil, "identity", "add", name, "--role", role); code != 0 {
		t.Fatalf("identity add %s: exit %d\n%s", name, code, out)
	}
	return filepath.Join(h, "state/identities", name+".creds")
}

// auditAttempts is web's attempts on the audit trail, "n:rung:outcome:actor".
func auditAttempts(t *testing.T, h string) (attempts []string, all []bus.AuditRecord) {
	t.Helper()
	out, err := exec.Command(razarBin, "--home", h, "audit", "--json", "--component", "web").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r bus.AuditRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
		if r.Event == bus.EventAttempt {
			attempts = append(attempts, fmt.Sprintf("%d:%s:%s:%s", r.Attempt, r.Agent, r.Outcome, r.Actor))
		}
	}
	return attempts, all
}

// TestHumanPageReachesAlertmanagerAndAnOperatorsResolveHeals: the human
// rung's turn pages a real Alertmanager with the incident and the commands
// that answer it; alice, an operator identity, fixes web by hand and
// resolves; RAZAR verifies the fix, the incident heals naming alice, and
// the page is resolved in Alertmanager.
func TestHumanPageReachesAlertmanagerAndAnOperatorsResolveHeals(t *testing.T) {
	t.Parallel()
	am := alerttest.Alertmanager(t)
	h := home(t, humanRoster(`, "timeout": "60s"`), map[string]string{"agents/fix.sh": fixScript})
	boot(t, h, []string{"RAZAR_ALERTMANAGER_URL=" + am}, "--nats-listen", "127.0.0.1:0")
	alice := mintIdentity(t, h, "alice", "operator")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	rec := paged(t, h, esc)

	var page amAlert
	bustest.Eventually(t, 15*time.Second, func() bool {
		for _, a := range activeAlerts(am) {
			if a.Labels["alertname"] == "RazarHumanPage" && a.Labels["incident"] == rec.ID {
				page = a
				return true
			}
		}
		return false
	}, "the page of %s never reached Alertmanager: %v", rec.ID, bustest.Lazy(func() string { return fmt.Sprint(activeAlerts(am)) }))
	summary := page.Annotations["summary"]
	for _, want := range []string{rec.ID, "web: down", "on-call human", "razar ack web", "razar resolve web", "razar pass web", "razar.lifecycle.resolve.web"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the page lacks %q:\n%s", want, summary)
		}
	}
	if page.Labels["component"] != "web" || page.Labels["severity"] != "critical" || !strings.HasSuffix(page.Annotations["runbook_url"], "#razarhumanpage") {
		t.Errorf("page labels %v annotations %v", page.Labels, page.Annotations)
	}

	if err := os.Remove(filepath.Join(h, "web", "broken")); err != nil {
		t.Fatal(err)
	}
	out, code := runRazar(t, h, nil, "resolve", "web", "--creds", alice, "--summary", "removed the broken flag")
	if code != 0 || !strings.Contains(out, "resolved by alice") {
		t.Fatalf("resolve: exit %d\n%s", code, out)
	}
	if code := esc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("escalate after the resolve: exit %d\n%s", code, esc.out)
	}
	attempts, all := auditAttempts(t, h)
	if got := strings.Join(attempts, " "); got != "1:oncall:healed:alice" {
		t.Fatalf("attempts: %s", got)
	}
	var lifecycle bool
	for _, r := range all {
		if r.Event == bus.EventLifecycle && r.Verb == "resolve" && r.Actor == "alice" && r.Status == "ok" && r.Incident == rec.ID {
			lifecycle = true
		}
		if r.Event == bus.EventAttempt && !strings.Contains(r.Summary, "fixed by hand by alice: removed the broken flag") {
			t.Errorf("the attempt's summary: %q", r.Summary)
		}
		if r.Event == bus.EventHealed && r.Reason != "alice (on-call human) fixed it by hand on attempt 1" {
			t.Errorf("the incident's end does not name alice: %q", r.Reason)
		}
	}
	if !lifecycle {
		t.Errorf("no lifecycle record of alice's resolve of %s", rec.ID)
	}
	bustest.Eventually(t, 15*time.Second, func() bool {
		for _, a := range activeAlerts(am) {
			if a.Labels["alertname"] == "RazarHumanPage" {
				return false
			}
		}
		return true
	}, "the answered page is still active in Alertmanager")
}

// TestHumanPageRefusesAnswersFromNonOperators: an observer's resolve is
// refused by the server, the orchestrator's own identity (which may send
// lifecycle requests) is refused as forbidden through the nats CLI, and
// the attempt still waits on the person, unanswered.
func TestHumanPageRefusesAnswersFromNonOperators(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	h := home(t, humanRoster(`, "timeout": "60s"`), map[string]string{"agents/fix.sh": fixScript})
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	bob := mintIdentity(t, h, "bob", "observer")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	rec := paged(t, h, esc)
	if err := os.Remove(filepath.Join(h, "web", "broken")); err != nil {
		t.Fatal(err)
	}

	// The server refuses the observer's publish: no answer comes.
	if out, _ := exec.Command(nats, "--creds", bob, "--server", url, "req", bus.LifecycleSubject(bus.VerbResolve, "web"), `{"v":1}`, "--timeout", "3s").CombinedOutput(); !strings.Contains(string(out), "Permissions Violation for Publish") || strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("an observer's resolve was not refused by the server:\n%s", out)
	}
	out, err := exec.Command(nats, natsAs(h, url, "orchestrator", "req", bus.LifecycleSubject(bus.VerbResolve, "web"), `{"v":1,"summary":"not a person"}`, "--raw", "--timeout", "10s")...).CombinedOutput()
	if err != nil {
		t.Fatalf("nats req as the orchestrator: %v\n%s", err, out)
	}
	var rep bus.LifecycleReply
	if err := json.Unmarshal(out, &rep); err != nil || rep.OK || rep.Code != bus.CodeForbidden {
		t.Fatalf("the orchestrator identity's resolve: %v, want refused as forbidden\n%s", err, out)
	}
	now := openIncident(t, h)
	if now == nil || now.ID != rec.ID || now.Pending == nil || now.Pending.Rung != "oncall" || now.Pending.Attempt != 1 || len(now.Attempts) != 0 || now.Pending.AckedBy != "" {
		t.Fatalf("after the refused answers the incident is %+v, want attempt 1 still on oncall, nothing recorded", now)
	}
	_, all := auditAttempts(t, h)
	for _, r := range all {
		if r.Event == bus.EventLifecycle && r.Verb == "resolve" && r.Status == "ok" {
			t.Fatalf("a refused resolve is recorded as ok: %+v", r)
		}
	}
}

// TestHumanAckHoldsTheLadderPastTheRungsTimeout: the human rung's timeout
// is 2 s; the operator acks, and the attempt is still the person's after
// twice that has passed since it began; a resolve then heals.
func TestHumanAckHoldsTheLadderPastTheRungsTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	h := home(t, humanRoster(`, "timeout": "2s", "ack_timeout": "1m"`), map[string]string{"agents/fix.sh": fixScript})
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	// The operator watches for the page on the bus and acks at once: the
	// rung's timeout is shorter than starting a razar process under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := bus.Connect(ctx, url, "operator", zerolog.Nop(), bus.WithCreds(filepath.Join(h, "state/identities/operator.creds")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pages := make(chan bus.AlertMsg, 8)
	stop, err := bus.Serve(nc, bus.AlertSubject(bus.SeverityCritical), func(m *bus.Request) {
		var a bus.AlertMsg
		if bus.Decode(m.Data, &a) == nil && a.Name == "RazarHumanPage" && a.Status == "firing" {
			pages <- a
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	var page bus.AlertMsg
	select {
	case page = <-pages:
	case <-ctx.Done():
		t.Fatalf("no page on %s; escalate:\n%s", bus.AlertSubject(bus.SeverityCritical), esc.out)
	}
	rep, err := bus.Command(ctx, nc, bus.VerbAck, "web", &bus.LifecycleRequest{Summary: "looking"})
	if err != nil || !strings.Contains(rep.Message, "acknowledged by operator") || rep.Incident != page.Incident {
		t.Fatalf("ack: %v %+v", err, rep)
	}
	rec := paged(t, h, esc)
	began := rec.Pending.Started
	bustest.Eventually(t, 20*time.Second, func() bool {
		now := openIncident(t, h)
		if now == nil || now.Pending == nil || now.Pending.Rung != "oncall" || now.Pending.Attempt != 1 {
			t.Fatalf("the acked attempt ended: %+v\n%s", now, esc.out)
		}
		if now.Pending.AckedBy != "operator" || !now.Pending.Deadline.After(began.Add(timeout)) {
			t.Fatalf("the ack is not on the pending attempt: %+v", now.Pending)
		}
		return time.Since(began) > 2*timeout
	}, "twice the rung's timeout never passed")
	if err := os.Remove(filepath.Join(h, "web", "broken")); err != nil {
		t.Fatal(err)
	}
	if out, code := runRazar(t, h, nil, "resolve", "web"); code != 0 {
		t.Fatalf("resolve: exit %d\n%s", code, out)
	}
	if code := esc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("escalate: exit %d\n%s", code, esc.out)
	}
	if attempts, _ := auditAttempts(t, h); strings.Join(attempts, " ") != "1:oncall:healed:operator" {
		t.Fatalf("attempts: %v", attempts)
	}
}

// TestHumanPassByTheNatsCLIHandsOnToTheNextRung: the plain nats CLI, as the
// operator identity, passes the page; K2 takes the incident and heals it.
func TestHumanPassByTheNatsCLIHandsOnToTheNextRung(t *testing.T) {
	t.Parallel()
	nats := natsCLI(t)
	h := home(t, humanRoster(`, "timeout": "60s"`), map[string]string{"agents/fix.sh": fixScript})
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	paged(t, h, esc)
	out, err := exec.Command(nats, natsAs(h, url, "operator", "req", bus.LifecycleSubject(bus.VerbPass, "web"), `{"v":1,"summary":"busy with the db"}`, "--raw", "--timeout", "10s")...).CombinedOutput()
	if err != nil {
		t.Fatalf("nats req pass: %v\n%s", err, out)
	}
	var rep bus.LifecycleReply
	if err := json.Unmarshal(out, &rep); err != nil || !rep.OK || !strings.Contains(rep.Message, "passed by operator") {
		t.Fatalf("pass reply: %v\n%s", err, out)
	}
	if code := esc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("escalate after the pass: exit %d\n%s", code, esc.out)
	}
	if attempts, _ := auditAttempts(t, h); strings.Join(attempts, " ") != "1:oncall:passed:operator 2:k2:healed:" {
		t.Fatalf("attempts: %v", attempts)
	}
}

// TestHumanRungOutsideItsScheduleIsSkipped: a human rung whose schedule
// is only the day after tomorrow is skipped with the schedule as the reason, and K2
// heals the incident.
func TestHumanRungOutsideItsScheduleIsSkipped(t *testing.T) {
	t.Parallel()
	// The day after tomorrow: no run of this test reaches it.
	day := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String()[:3])
	h := home(t, humanRoster(`, "schedule": {"days": "`+day+`", "from": "00:00", "to": "24:00", "tz": "UTC"}`), map[string]string{"agents/fix.sh": fixScript})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	if code := esc.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("escalate: exit %d\n%s", code, esc.out)
	}
	attempts, all := auditAttempts(t, h)
	if got := strings.Join(attempts, " "); got != "1:k2:healed:" {
		t.Fatalf("attempts: %s", got)
	}
	var skip *bus.AuditRecord
	for i, r := range all {
		if r.Event == bus.EventSkipped && r.Agent == "oncall" {
			skip = &all[i]
		}
	}
	if skip == nil || !strings.Contains(skip.Error, "outside its schedule ("+day+" 00:00-24:00 UTC)") {
		t.Fatalf("no skip of oncall naming its schedule: %+v", skip)
	}
}

// TestReloadStopsARungThatTurnsHumanAndStartsOneThatStopsBeing: no process
// runs a human rung; a reload that makes k2 a person stops its in-process
// rung, and one that makes it a model again starts it.
func TestReloadStopsARungThatTurnsHumanAndStartsOneThatStopsBeing(t *testing.T) {
	t.Parallel()
	model := `{"agents": [{"name": "k2", "backend": "exec", "command": ["sh", "agents/fix.sh"]}]}`
	person := `{"agents": [{"name": "k2", "display": "on-call human", "backend": "human"}]}`
	h := home(t, person, map[string]string{"agents/fix.sh": fixScript})
	boot(t, h, nil, "--nats-listen", "127.0.0.1:0")
	answers := func() bool {
		out, _ := runRazar(t, h, nil, "agents", "check")
		return !strings.Contains(out, "no running process answers")
	}
	if answers() {
		t.Fatal("a process answers for the human rung k2")
	}
	for i, roster := range []string{model, person} {
		if err := os.WriteFile(filepath.Join(h, "config/razar_ai_agents.json"), []byte(roster), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := runRazar(t, h, nil, "reload"); code != 0 {
			t.Fatalf("reload: exit %d\n%s", code, out)
		}
		want := i == 0 // the model rung runs; the person has no process
		bustest.Eventually(t, 15*time.Second, func() bool { return answers() == want }, "after reload %d k2's process answers: want %v", i+1, want)
	}
}
