package fixmem

import (
	"strings"
	"testing"
)

// Real failure texts, as RAZAR's supervisor and probes write them (the
// demo's ledger, the e2e web component, the probe and validate errors of
// the tests), each with a second occurrence that differs only in noise.
var recurrences = []struct {
	name, component, first, again string
}{
	{"demo ledger crash loop", "ledger",
		"ledger exited with status 1 during its start grace; last output: ledger.conf: port missing or not a number (crash loop: 1 restart did not keep it up)\n--- last output of ledger ---\nledger.conf: port missing or not a number\n",
		"ledger exited with status 1 during its start grace; last output: ledger.conf: port missing or not a number (crash loop: 1 restart did not keep it up)\n--- last output of ledger ---\nledger.conf: port missing or not a number"},
	{"port in use", "web", "exit status 1: port 8101 in use", "exit status 1: port 8117 in use"},
	{"http health check refused", "web",
		`web health check failed: Get "http://127.0.0.1:40123/health": dial tcp 127.0.0.1:40123: connect: connection refused`,
		`web health check failed: Get "http://127.0.0.1:38811/health": dial tcp 127.0.0.1:38811: connect: connection refused`},
	{"temp workdir", "web",
		"validate sh ./check.sh: exit status 1: open /tmp/TestHealFromMemory1234567/001/services/web/app.conf: no such file or directory",
		"validate sh ./check.sh: exit status 1: open /tmp/TestHealFromMemory7654321/003/services/web/app.conf: no such file or directory"},
	{"demo home", "ledger",
		"ledger health check failed: command probe sh ./check.sh: exit status 1: cannot read /tmp/razar-demo.sl6GDT/services/ledger/ledger.conf",
		"ledger health check failed: command probe sh ./check.sh: exit status 1: cannot read /tmp/razar-demo.Q81xaZ/services/ledger/ledger.conf"},
	{"pid in the log tail", "courier",
		"courier exited with status 2\n--- last output of courier ---\ncourier[pid 48213]: outbox locked by pid=48100",
		"courier exited with status 2\n--- last output of courier ---\ncourier[pid 9]: outbox locked by pid=51234"},
	{"timestamped log tail", "web",
		"web exited with status 1\n--- last output of web ---\n2026-12-02T02:38:05.19199227Z ERROR listen: bind failed after 3 tries (1.5s)\n02:38:06 giving up",
		"web exited with status 1\n--- last output of web ---\n2026-12-03T11:02:59.5Z ERROR listen: bind failed after 4 tries (2.25s)\n11:03:01 giving up"},
	{"hex ids", "web",
		"patch p-1a2b3c4d5e rejected for incident inc-20261202-023805-4ace3c: sha256 9f86d081884c7d65 differs (request 0x7f3a)",
		"patch p-9e8d7c6b5a rejected for incident inc-20261203-110259-01be7f: sha256 2c26b46b68ffc68f differs (request 0x11)"},
	{"uuid", "vector", "vector health check failed: status 503 (trace 123e4567-e89b-12d3-a456-426614174000)",
		"vector health check failed: status 503 (trace 00000000-aaaa-4bbb-8ccc-0123456789ab)"},
}

func TestSignatureIsTheSameForEachRecurrenceOfARealFailure(t *testing.T) {
	for _, r := range recurrences {
		t.Run(r.name, func(t *testing.T) {
			a, b := Signature(r.component, r.first), Signature(r.component, r.again)
			if a != b {
				t.Errorf("signatures differ: %s vs %s\n  %q\n  %q", a, b, Normalize(r.first), Normalize(r.again))
			}
			if !ValidSignature(a) {
				t.Errorf("signature %q has not the shape sig-<16 hex>", a)
			}
		})
	}
}

func TestSignatureTellsDifferentFailuresApart(t *testing.T) {
	ledger := recurrences[0].first
	for _, c := range []struct{ name, c1, t1, c2, t2 string }{
		{"another component", "ledger", ledger, "courier", ledger},
		{"another cause", "ledger", "ledger.conf: port missing or not a number", "ledger", "ledger.conf: no listen address"},
		{"refused vs timed out", "web", `dial tcp 127.0.0.1:40123: connect: connection refused`, "web", `dial tcp 127.0.0.1:40123: i/o timeout`},
		{"a word is not a hex id", "web", "cache deadbeef missing", "web", "cache facade missing"},
	} {
		if Signature(c.c1, c.t1) == Signature(c.c2, c.t2) {
			t.Errorf("%s: %q/%q and %q/%q sign alike (%q)", c.name, c.c1, c.t1, c.c2, c.t2, Normalize(c.t1))
		}
	}
}

func TestNormalizeMasksEachKindOfNoise(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"at 2026-12-02T02:38:05.19199227Z and 02:38:06", "at <time> and <time>"},
		{"open /tmp/TestX12/001/a.conf: denied", "open <tmp>: denied"},
		{"listen 127.0.0.1:4222 pid 812", "listen <n>.<n>.<n>.<n>:<port> pid <pid>"},
		{"port=8101", "port <port>"},
		{"commit 1a2b3c4d5e6f and 0xFF", "commit <hex> and <hex>"},
		{"took 1.5s, 3 tries", "took <n>.<n>s, <n> tries"},
		{"  two\n\tlines  ", "two lines"},
	} {
		if got := Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("é", MaxNormalized)
	if got := Normalize(long); len(got) > MaxNormalized || !strings.HasPrefix(long, got) {
		t.Errorf("Normalize of %d bytes: got %d bytes, want a valid prefix of at most %d", len(long), len(got), MaxNormalized)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, r := range recurrences {
		f.Add(r.first)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if len(n) > MaxNormalized {
			t.Fatalf("Normalize gave %d bytes, over %d", len(n), MaxNormalized)
		}
		// A signature of a normalised text is the signature of the text.
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize is not idempotent:\n in %q\nout %q\nthen %q", s, n, again)
		}
	})
}

// BenchmarkSignature signs the demo's ledger failure with a 4 KiB log tail,
// the size the supervisor attaches at most.
func BenchmarkSignature(b *testing.B) {
	text := recurrences[0].first + strings.Repeat("2026-12-02T02:38:05Z ledger[pid 4821]: retry 3 on 127.0.0.1:8450 failed\n", 56)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Signature("ledger", text)
	}
}
