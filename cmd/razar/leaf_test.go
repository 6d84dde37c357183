package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
	"github.com/razar/razar/jetstream/bustest"
)

// leafPassword is the hub's password for the leaf link; it must never reach
// RAZAR's log or state files.
const leafPassword = "leaf-pw-9f3c2e71"

// hubConfig is a hub configured by file: account HOSTS takes the leaf
// links (user leaf) and holds the sourced streams; admin, the no-auth
// user, is the hub operator reading them.
const hubConfig = `accounts {
  HOSTS: { jetstream: enabled, users: [ {user: leaf, password: "` + leafPassword + `"}, {user: admin, password: "admin-pw"} ] }
  SYS: { users: [ {user: sys, password: "sys-pw"} ] }
}
system_account: SYS
no_auth_user: admin
`

// newHub starts a hub cluster of n real nats-servers in JetStream domain
// "hub", taking leaf nodes.
func newHub(t *testing.T, n int) *bustest.Cluster {
	t.Helper()
	return bustest.NewCluster(t, n, bustest.WithLeafNodeConfig("no_advertise: true"), bustest.WithJetStreamDomain("hub"), bustest.WithConfig(hubConfig))
}

// linkProxy forwards TCP connections from a loopback port to target, so a
// test can cut a leaf link (Cut: the listener and every forwarded
// connection closed) and restore it on the same port, hub untouched.
type linkProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	p := &linkProxy{t: t, addr: fmt.Sprintf("127.0.0.1:%d", bustest.FreePort(t)), target: target, conns: map[net.Conn]struct{}{}}
	p.Restore()
	t.Cleanup(p.Cut)
	return p
}

// Restore listens again on the proxy's port.
func (p *linkProxy) Restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("link proxy on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					_, _ = io.Copy(pair[0], pair[1])
					pair[0].Close()
					pair[1].Close()
				}()
			}
		}
	}()
}

// track records a forwarded pair; false (both closed) once the listener it
// came from was cut.
func (p *linkProxy) track(c ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, x := range c {
			x.Close()
		}
		return false
	}
	for _, x := range c {
		p.conns[x] = struct{}{}
	}
	return true
}

// Cut closes the listener and every forwarded connection, and waits for
// the proxy's goroutines. Idempotent.
func (p *linkProxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// hostRecords reads the host's stream RAZAR as its orchestrator.
func hostRecords(t *testing.T, h, url string) []bustest.Record {
	t.Helper()
	return bustest.StreamRecords(t, url, filepath.Join(h, "state/identities/orchestrator.creds"), "", "RAZAR")
}

// sameRecords says how two streams' records differ by subject and payload,
// in order; "" when they are the same.
func sameRecords(host, hub []bustest.Record) string {
	if len(host) != len(hub) {
		return fmt.Sprintf("host has %d records, hub %d", len(host), len(hub))
	}
	for i := range host {
		if host[i].Subject != hub[i].Subject || host[i].Data != hub[i].Data {
			return fmt.Sprintf("record %d: host %s %q, hub %s %q", i, host[i].Subject, host[i].Data, hub[i].Subject, hub[i].Data)
		}
	}
	return ""
}

// leafRoster: crown cannot fix "web: down"; kimicho can, once the test
// lets it (the file go in the home), so the test can cut the link while
// kimicho works.
const leafRoster = `{"agents": [
  {"name": "crown", "backend": "builtin"},
  {"name": "kimicho", "backend": "exec", "command": ["sh", "agents/kimicho.sh"], "timeout": "30s"}
]}`

const leafKimicho = "#!/bin/sh\ncat >/dev/null\necho run >> kimicho.runs\nwhile [ ! -f go ]; do sleep 0.05; done\nrm -f \"$RAZAR_WORKDIR/broken\"\necho '{\"status\": \"fixed\", \"summary\": \"removed broken\"}'\n"

// TestLeafHubSourcesEveryRecordAcrossALinkOutage: a host booted with
// --leaf declares its sourcing stream on the hub; the link is cut while a
// rung works; the incident heals on the host alone; once the link is back
// the hub's stream RAZAR_h1 holds exactly the host's records (subjects and
// payloads, in order, no duplicates).
func TestLeafHubSourcesEveryRecordAcrossALinkOutage(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 3)
	hubURL := hub.Nodes[0].URL()
	proxy := newLinkProxy(t, fmt.Sprintf("127.0.0.1:%d", hub.Nodes[0].Leaf))
	h := home(t, leafRoster, map[string]string{"agents/kimicho.sh": leafKimicho})
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0",
		"--leaf", "nats://leaf:"+leafPassword+"@"+proxy.addr, "--leaf-domain", "h1")

	var why string
	inSync := func() bool {
		got, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h1")
		if err != nil {
			why = err.Error()
			return false
		}
		why = sameRecords(hostRecords(t, h, url), got)
		return why == ""
	}
	bustest.Eventually(t, 20*time.Second, inSync, "the hub's RAZAR_h1 never matched the host's RAZAR: %v", bustest.Lazy(func() string { return why }))

	// A hub client listening to razar.> hears none of the host's traffic:
	// the host's records reach the hub by sourcing alone.
	nats := natsCLI(t)
	sub := exec.Command(nats, "--server", hubURL, "sub", "razar.>")
	subOut := &syncBuf{}
	sub.Stdout, sub.Stderr = subOut, subOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })
	bustest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(subOut.String(), "Subscribing") }, "nats sub did not start: %s", subOut)

	breakWeb(t, h)
	esc := start(t, h, nil, "escalate", "web", "--error", "web: down")
	bustest.Eventually(t, 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(h, "kimicho.runs"))
		return err == nil
	}, "kimicho never started")
	// Crown's escalation crossed by sourcing before the cut: any core copy
	// of it came over the same leaf connection ahead of it.
	bustest.Eventually(t, 10*time.Second, func() bool {
		got, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h1")
		for _, r := range got {
			if r.Subject == bus.EscalateSubject("crown") {
				return err == nil
			}
		}
		return false
	}, "crown's escalation never reached the hub's copy")
	proxy.Cut()
	if err := os.WriteFile(filepath.Join(h, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := esc.wait(t, 30*time.Second); code != 0 || !strings.Contains(esc.out.String(), "HEALED") {
		t.Fatalf("escalate with the link down: exit %d, want 0 and HEALED:\n%s", code, esc.out)
	}
	host := hostRecords(t, h, url)
	cutAt := len(bustest.StreamRecords(t, hubURL, "", "", "RAZAR_h1"))
	if cutAt >= len(host) {
		t.Fatalf("with the link cut the hub has %d records, the host %d: the link was not down during the incident", cutAt, len(host))
	}

	proxy.Restore()
	restored := time.Now()
	bustest.Eventually(t, 30*time.Second, inSync, "after the link came back the hub's RAZAR_h1 never matched the host's RAZAR: %v", bustest.Lazy(func() string { return why }))
	t.Logf("the hub caught up %v after the link came back (%d records, %d written while it was down)", time.Since(restored).Round(10*time.Millisecond), len(host), len(host)-cutAt)
	var healed bool
	for _, r := range bustest.StreamRecords(t, hubURL, "", "", "RAZAR_h1") {
		healed = healed || strings.Contains(r.Data, `"healed"`)
	}
	if !healed {
		t.Fatal("the hub's copy has no healed record")
	}

	if strings.Contains(subOut.String(), "Received") {
		t.Fatalf("core razar.> traffic of the host crossed the leaf link:\n%s", subOut)
	}

	// The hub may read the host's JetStream, not change it.
	if out, err := exec.Command(nats, "--server", hubURL, "--js-domain", "h1", "--timeout", "5s", "stream", "info", "RAZAR").CombinedOutput(); err != nil {
		t.Fatalf("the hub cannot read the host's stream info by domain h1: %v\n%s", err, out)
	}
	if out, err := exec.Command(nats, "--server", hubURL, "--js-domain", "h1", "--timeout", "2s", "stream", "rm", "RAZAR", "-f").CombinedOutput(); err == nil {
		t.Fatalf("the hub deleted the host's stream RAZAR:\n%s", out)
	}
	if after := hostRecords(t, h, url); len(after) < len(host) {
		t.Fatalf("the host's stream lost records to the hub: %d, had %d", len(after), len(host))
	}
}

// TestLeafCredentialsNeverInLogsOrState: the leaf link's password (in the
// --leaf URL) is in no file RAZAR writes and not on its output, while its
// log names the hub it linked to.
func TestLeafCredentialsNeverInLogsOrState(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 2)
	hubURL := hub.Nodes[0].URL()
	h := home(t, `{"agents": [{"name": "crown", "backend": "builtin"}]}`, nil)
	leafURL := fmt.Sprintf("nats://leaf:%s@127.0.0.1:%d", leafPassword, hub.Nodes[0].Leaf)
	p, _ := boot(t, h, []string{"RAZAR_LOG_LEVEL=trace"}, "--nats-listen", "127.0.0.1:0", "--leaf", leafURL, "--leaf-domain", "h2")
	bustest.Eventually(t, 20*time.Second, func() bool {
		_, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h2")
		return err == nil
	}, "the hub never got stream RAZAR_h2")
	breakWeb(t, h)
	if out, code := runRazar(t, h, nil, "escalate", "web", "--error", "web: down"); code > 1 {
		t.Fatalf("escalate: exit %d\n%s", code, out)
	}
	var named bool
	err := readHomeFiles(h, func(path string, b []byte) error {
		if strings.Contains(string(b), leafPassword) {
			return errors.New(path + " holds the leaf link's password")
		}
		named = named || strings.Contains(string(b), fmt.Sprintf("127.0.0.1:%d", hub.Nodes[0].Leaf))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !named {
		t.Fatal("no file of the home names the hub: the search could not have found the password either")
	}
	if strings.Contains(p.out.String(), leafPassword) {
		t.Fatalf("razar boot printed the leaf link's password:\n%s", p.out)
	}
}

// TestLeafWithNatsIsAUsageError: --leaf links the embedded server; with
// --nats there is none: exit 2 saying why, before anything starts.
func TestLeafWithNatsIsAUsageError(t *testing.T) {
	h := home(t, crownRoster, nil)
	_, stderr, code := runCLI(t, "--home", h, "boot", "--nats", "nats://127.0.0.1:4222", "--leaf", "nats://u:secret-pw@127.0.0.1:7422")
	if code != 2 || !strings.Contains(stderr, "no embedded server") || strings.Contains(stderr, "secret-pw") {
		t.Fatalf("exit %d, %q: want 2 saying there is no embedded server, without the password", code, stderr)
	}
	_, stderr, code = runCLI(t, "--home", h, "boot", "--leaf-creds", "/nope.creds", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "without --leaf") {
		t.Fatalf("--leaf-creds alone: exit %d, %q: want 2 naming --leaf", code, stderr)
	}
	_, stderr, code = runCLI(t, "--home", h, "boot", "--leaf", "nats://127.0.0.1:7422", "--leaf-domain", "a.b", "--nats-listen", "127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "--leaf-domain") {
		t.Fatalf("--leaf-domain a.b: exit %d, %q: want 2 naming --leaf-domain", code, stderr)
	}
}

// TestLeafHubOperatorDeclaresTheSourceByHand: with --leaf-hub-domain none
// RAZAR declares nothing on the hub, and the stream configuration the docs
// and the refusal's message give the hub operator sources the host's
// records.
func TestLeafHubOperatorDeclaresTheSourceByHand(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 2)
	hubURL := hub.Nodes[0].URL()
	h := home(t, crownRoster, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0", "--leaf-hub-domain", "none",
		"--leaf", fmt.Sprintf("nats://leaf:%s@127.0.0.1:%d", leafPassword, hub.Nodes[0].Leaf), "--leaf-domain", "h3")
	if _, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h3"); err == nil {
		t.Fatal("with --leaf-hub-domain none RAZAR declared RAZAR_h3 on the hub")
	}
	conf := filepath.Join(t.TempDir(), "RAZAR_h3.json")
	if err := os.WriteFile(conf, []byte(jetstream.HubSourceJSON("h3")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(natsCLI(t), "--server", hubURL, "--js-domain", "hub", "stream", "add", "--config", conf).CombinedOutput(); err != nil {
		t.Fatalf("nats stream add --config %s: %v\n%s", jetstream.HubSourceJSON("h3"), err, out)
	}
	var why string
	bustest.Eventually(t, 20*time.Second, func() bool {
		got, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h3")
		if err != nil {
			why = err.Error()
			return false
		}
		host := hostRecords(t, h, url)
		why = sameRecords(host, got)
		return why == "" && len(host) > 0
	}, "the hand-declared RAZAR_h3 never matched the host's RAZAR: %v", bustest.Lazy(func() string { return why }))
}

// TestLeafNarrowCredentialIsEnough: a leaf user allowed only the subjects
// docs/SCALE.md lists for host domain h4 declares the hub's copy and
// fills it. For a leaf user, publish is what the host sends the hub and
// subscribe what the hub sends the host.
func TestLeafNarrowCredentialIsEnough(t *testing.T) {
	t.Parallel()
	conf := strings.Replace(hubConfig, `{user: leaf, password: "`+leafPassword+`"}`, `{user: leaf, password: "`+leafPassword+`", permissions: {
      publish: ["$JS.hub.API.STREAM.INFO.RAZAR_h4", "$JS.hub.API.STREAM.CREATE.RAZAR_h4", "$JS.S.>", "$JSC.R.>", "_INBOX.>"],
      subscribe: ["$JS.h4.API.>", "$JS.FC.>", "_INBOX.>"] }}`, 1)
	if conf == hubConfig {
		t.Fatal("the leaf user is not in hubConfig")
	}
	hub := bustest.NewCluster(t, 2, bustest.WithLeafNodeConfig("no_advertise: true"), bustest.WithJetStreamDomain("hub"), bustest.WithConfig(conf))
	hubURL := hub.Nodes[0].URL()
	h := home(t, crownRoster, nil)
	_, url := boot(t, h, nil, "--nats-listen", "127.0.0.1:0",
		"--leaf", fmt.Sprintf("nats://leaf:%s@127.0.0.1:%d", leafPassword, hub.Nodes[0].Leaf), "--leaf-domain", "h4")
	breakWeb(t, h)
	if out, code := runRazar(t, h, nil, "escalate", "web", "--error", "web: down"); code > 1 {
		t.Fatalf("escalate: exit %d\n%s", code, out)
	}
	var why string
	bustest.Eventually(t, 20*time.Second, func() bool {
		got, err := bustest.ReadStream(hubURL, "", "", "RAZAR_h4")
		if err != nil {
			why = err.Error()
			return false
		}
		host := hostRecords(t, h, url)
		why = sameRecords(host, got)
		return why == "" && len(host) > 0
	}, "with the narrow leaf credential the hub's RAZAR_h4 never matched the host's RAZAR: %v\nhub log:\n%s", bustest.Lazy(func() string { return why }), bustest.Lazy(func() string { return hub.Nodes[0].Log() }))
}

// operatorHub is the configuration of a hub in operator mode (accounts
// SYS and HOSTS, with JetStream, in a memory resolver) and the .creds
// files of two HOSTS users, leaf and admin, written to dir.
func operatorHub(t *testing.T, dir string) (conf, leafCreds, adminCreds string, secrets []string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	skp, err := nkeys.CreateAccount()
	must(err)
	akp, err := nkeys.CreateAccount()
	must(err)
	opub, _ := okp.PublicKey()
	spub, _ := skp.PublicKey()
	apub, _ := akp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.SystemAccount = spub
	ojwt, err := oc.Encode(okp)
	must(err)
	sc := jwt.NewAccountClaims(spub)
	sc.Name = "SYS"
	sjwt, err := sc.Encode(okp)
	must(err)
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "HOSTS"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	ajwt, err := ac.Encode(okp)
	must(err)
	user := func(name string) string {
		ukp, err := nkeys.CreateUser()
		must(err)
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		ujwt, err := uc.Encode(akp)
		must(err)
		seed, _ := ukp.Seed()
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		must(err)
		secrets = append(secrets, string(seed), ujwt)
		p := filepath.Join(dir, name+".creds")
		must(os.WriteFile(p, creds, 0o600))
		return p
	}
	leafCreds, adminCreds = user("leaf"), user("admin")
	conf = fmt.Sprintf("operator: %q\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %q\n  %s: %q\n}\n", ojwt, spub, spub, sjwt, apub, ajwt)
	return conf, leafCreds, adminCreds, secrets
}

// TestLeafCredsFileLinksToAnOperatorModeHub: --leaf-creds logs the link
// in to a hub in operator mode, the hub's copy fills, and neither the
// credential's seed nor its JWT is in any file of the home or on the
// output.
func TestLeafCredsFileLinksToAnOperatorModeHub(t *testing.T) {
	t.Parallel()
	conf, leafCreds, adminCreds, secrets := operatorHub(t, t.TempDir())
	hub := bustest.NewCluster(t, 2, bustest.WithLeafNodeConfig("no_advertise: true"), bustest.WithJetStreamDomain("hub"),
		bustest.WithConfig(conf), bustest.WithClientCreds(adminCreds))
	hubURL := hub.Nodes[0].URL()
	h := home(t, crownRoster, nil)
	p, url := boot(t, h, []string{"RAZAR_LEAF_CREDS=" + leafCreds, "RAZAR_LOG_LEVEL=trace"}, "--nats-listen", "127.0.0.1:0",
		"--leaf", fmt.Sprintf("nats://127.0.0.1:%d", hub.Nodes[0].Leaf), "--leaf-domain", "h5")
	var why string
	bustest.Eventually(t, 20*time.Second, func() bool {
		got, err := bustest.ReadStream(hubURL, adminCreds, "", "RAZAR_h5")
		if err != nil {
			why = err.Error()
			return false
		}
		host := hostRecords(t, h, url)
		why = sameRecords(host, got)
		return why == "" && len(host) > 0
	}, "the operator-mode hub's RAZAR_h5 never matched the host's RAZAR: %v", bustest.Lazy(func() string { return why }))
	err := readHomeFiles(h, func(path string, b []byte) error {
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				return errors.New(path + " holds the leaf credential's seed or JWT")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(p.out.String(), s) {
			t.Fatal("razar boot printed the leaf credential's seed or JWT")
		}
	}
}

// readHomeFiles calls fn with each regular file under root and its
// content, skipping the files RAZAR renames or removes while the walk goes
// by (its atomic writes' temp files).
func readHomeFiles(root string, fn func(path string, b []byte) error) error {
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(path, b)
	})
}
