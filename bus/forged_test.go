package bus_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/razar/razar"
	"github.com/razar/razar/auth"
	"github.com/razar/razar/bus"
)

// requestWithInfo sends a lifecycle stop carrying a Nats-Request-Info
// header the client wrote itself, as on a server that does not stamp it,
// and returns the reply.
func requestWithInfo(t *testing.T, nc *nats.Conn, info bus.RequestInfo) *bus.LifecycleReply {
	t.Helper()
	hdr, _ := json.Marshal(info)
	m := nats.NewMsg(bus.LifecycleSubject(bus.VerbStop, "web"))
	m.Header.Set("Nats-Request-Info", string(hdr))
	m.Data = []byte(`{"v":1}`)
	res, err := nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep bus.LifecycleReply
	if err := bus.Decode(res.Data, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

// TestLifecycleRefusesAJWTSignedByAForeignKeyClaimingTheAccount: where the
// server does not stamp the header, a client that signs an operator's JWT
// with a key of its own and claims issuer_account RAZAR is refused, the
// stop never runs; the home's own operator JWT in the same header is
// recorded by name and public key.
func TestLifecycleRefusesAJWTSignedByAForeignKeyClaimingTheAccount(t *testing.T) {
	tr, err := auth.Open(razar.Home(t.TempDir()).Identities())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tr.Mint("alice", auth.Operator, nil, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	realTok, _ := jwt.ParseDecoratedJWT(b)
	real, _ := jwt.DecodeUserClaims(realTok)

	env, records, ran := lifecycleOn(t, func(ri bus.RequestInfo) (auth.Identity, error) { return tr.Identify(ri.JWT, ri.User) })

	foreign, _ := nkeys.CreateAccount()
	uc := jwt.NewUserClaims(real.Subject)
	uc.Name, uc.IssuerAccount = "alice", real.Issuer
	uc.Tags.Add("razar-role:operator")
	forged, err := uc.Encode(foreign)
	if err != nil {
		t.Fatal(err)
	}
	rep := requestWithInfo(t, env.NATS, bus.RequestInfo{Account: real.Issuer, User: real.Subject, JWT: forged})
	if rep.OK || rep.Code != bus.CodeForbidden {
		t.Fatalf("forged-issuer stop: %+v, want forbidden", rep)
	}
	if r := ran(); len(r) != 0 {
		t.Fatalf("the stop ran for a forged JWT: %q", r)
	}

	rep = requestWithInfo(t, env.NATS, bus.RequestInfo{Account: real.Issuer, User: real.Subject, JWT: realTok})
	if !rep.OK {
		t.Fatalf("the home's own operator was refused: %+v", rep)
	}
	recs := records()
	if len(recs) != 2 || recs[0].Status != "refused" || recs[1].Actor != "alice" || recs[1].ActorKey != real.Subject {
		t.Fatalf("records %+v, want the refusal, then alice's stop with her key", recs)
	}
}
