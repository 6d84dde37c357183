package razar

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Real nkeys seeds, one of each type (generated with nkeys, never used).
var testSeeds = []string{
	"SUABUYNNDFUJD4N3OTLZXT6OPVL7CNY7EDDLFL5GOQOF3OFGAVEPQMG6KE",
	"SAAML6YAUPCHSM4HUGNDGW5R3RRE72V6B53Z2M3G3WFI375YXSCSSNU5LM",
	"SOAGEBZYIUPMSWQ27P454DEHLMEQDWTSZAUYQEIFVQQ45JQVURS56L7YSM",
	"SNAP5WVWRX4OW4UKSNF57DIDNH2KVV3PIF627DJO5NOEBWDKVABI2PLGFM",
	"SCAL4LGGYAFZSU4Q7JBTS2KUNKQFOFDLCP3RRDDCHLBX2BDLLGJV33UMXI",
	"SXANMQNPDVSW4AYDICZPISIS46TNSKBD4V7UBLWFRLR4Q7IASV4GCZANZY",
}

const (
	testJWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkNERUZHSElKS0xNTk9QIiwiaWF0IjoxNzAwMDAwMDAwLCJpc3MiOiJBQ1VEVE5MRCIsIm5hbWUiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtZm9yLXRoZS10ZXN0"
	testPEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAvx3Lk9Q0pT1c2ZmVq8Y3Z0h9uYq7wXhQeJ0+Rk3cbnW1yX2d\nq1Z5+abcDEFghijKLMNopqrsTUVwxyz0123456789+/abcdefghijklmnopqrstuv==\n-----END RSA PRIVATE KEY-----"
)

// testCreds is a NATS credentials file as `nats` writes it.
func testCreds() string {
	return "-----BEGIN NATS USER JWT-----\n" + testJWT + "\n------END NATS USER JWT------\n\n" +
		"************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + testSeeds[0] + "\n------END USER NKEY SEED------\n"
}

// Every shape of secret is replaced, wherever it sits in the text, by any
// Redactor, a nil one included: no value needs to be known.
func TestEveryShapeOfSecretIsScrubbed(t *testing.T) {
	secrets := map[string]string{
		"JWT":                    testJWT,
		"PEM private key":        testPEM,
		"OpenSSH private key":    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----",
		"OpenAI key":             "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
		"Anthropic key":          "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
		"GitHub token":           "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
		"GitHub fine-grained":    "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789",
		"AWS access key id":      "AKIAIOSFODNN7EXAMPLE",
		"Slack token":            "xoxb-123456789012-abcdefABCDEF",
		"Google API key":         "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
		"GitLab token":           "glpat-AbCdEfGhIjKlMnOpQrSt",
		"Stripe key":             "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
		"bearer token":           "Bearer 8f2a9c0e4b6d1a3f5e7c9b0d2f4a6c8e",
		"bearer token lowercase": "bearer mF_9.B5f-4.1JqM",
		"authorization basic":    `Authorization: Basic dXNlcjpwYXNzd29yZA==`,
		"authorization json":     `"authorization": "Bearer abc.def.ghi"`,
		"URL password":           "nats://razar:s3cr3t-pa55@hub.example:7422",
	}
	for i, seed := range testSeeds {
		secrets["NATS seed "+string(seed[1])] = seed
		_ = i
	}
	var nilR *Redactor
	r, err := NewRedactor([]string{"unrelated-value"}, []string{`password=\S+`})
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range secrets {
		// The secret part: what follows a kept scheme or user name.
		core := secret
		for _, cut := range []string{"Bearer ", "bearer ", "Basic ", "razar:"} {
			if _, after, ok := strings.Cut(secret, cut); ok {
				core = strings.TrimSuffix(strings.TrimSuffix(after, `"`), "@hub.example:7422")
			}
		}
		for _, text := range []string{
			secret,
			"before " + secret + " after",
			"line1\n" + secret + "\nline3",
			jsonString(t, "error: "+secret),
		} {
			for rname, red := range map[string]*Redactor{"nil": nilR, "zero": {}, "built": r} {
				got := red.Redact(text)
				if strings.Contains(got, core) || !strings.Contains(got, Redacted) {
					t.Errorf("%s (%s redactor): %q left %q", name, rname, text, got)
				}
			}
		}
	}
}

// A whole NATS credentials file (JWT and seed) printed by a component or a
// validator comes out with neither.
func TestCredsFileIsScrubbedWholeAndInsideJSON(t *testing.T) {
	for _, text := range []string{testCreds(), jsonString(t, testCreds())} {
		got := ScrubShapes(text)
		if strings.Contains(got, testSeeds[0]) || strings.Contains(got, testJWT[:40]) {
			t.Fatalf("creds not scrubbed: %q", got)
		}
	}
}

// A private key block cut before its END line (a clipped output tail)
// still loses its body.
func TestCutPrivateKeyBlockLosesItsBody(t *testing.T) {
	cut := testPEM[:strings.Index(testPEM, "-----END")]
	got := ScrubShapes("tail:\n" + cut)
	if strings.Contains(got, "MIIEowIBAAKCAQEAvx3Lk9Q0pT1c2ZmVq8Y3Z0h9uYq7wXhQeJ0") || strings.Contains(got, "abcdefghijklmnopqrstuv") {
		t.Fatalf("cut block kept its body: %q", got)
	}
}

// Ordinary text passes untouched: words (bearer and token among them),
// hex digests, UUIDs, paths, public NATS keys, code, diffs.
func TestOrdinaryTextIsNotMangled(t *testing.T) {
	for _, s := range []string{
		"the component crashed: connection refused on 127.0.0.1:8101",
		"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"SHA256 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
		"commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
		"incident 123e4567-e89b-12d3-a456-426614174000 opened",
		"/var/lib/razar/services/web/task-scheduler-configuration-file.yaml",
		"/home/ops/sk-learn-tutorial-notebooks/run.py",
		"./services/router/bin/router --port 8101 --config /etc/router/router.yaml",
		"The bearer authentication scheme sends a token; Bearer tokens expire.",
		"headers = {\"Authorization\": \"Bearer \" + token}",
		"authorization = get_token()",
		"Authorization: Bearer ${KIMI2_API_KEY}",
		"identity k2 UCRMCBZNYOXT4M7ILTHIIBTL5A4OJHT2YXWET67PUJRUAIRJYBORCSHF",
		"account ACUDTNLDULQYK23FMHR7ASTDTRT55FKUCHERALXI5OPCPWSCNG44VVJK",
		"SUCCESSFULLY STARTED ALL COMPONENTS IN THE ROOT LAYER",
		"--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,3 @@\n-import os\n+import sys\n print('eyJ is how base64 JSON starts')\n",
		"https://hub.example:7422/path?x=1",
		"nats://razar:xxxxx@hub.example:7422 (password masked already)",
		"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
		"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
		"ASK-ABOUT-IT and risk-assessment-for-the-whole-project-2024",
		"version v1.2.3-rc.4+build.5, go1.24.1 linux/amd64",
	} {
		if got := ScrubShapes(s); got != s {
			t.Errorf("ScrubShapes(%q) = %q: ordinary text mangled", s, got)
		}
	}
}

// A known key is redacted inside a JSON line too, even when JSON escapes
// some of its characters.
func TestKnownKeyIsRedactedInItsJSONForm(t *testing.T) {
	const key = `pa"ss<wo>rd&\key`
	r, err := NewRedactor([]string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, html := range []bool{true, false} {
		line := `{"error":"` + jsonEscaped("boom "+key, html) + `"}`
		if got := r.Redact(line); strings.Contains(got, "ss") || !json.Valid([]byte(got)) {
			t.Errorf("html=%v: %q -> %q", html, line, got)
		}
	}
}

func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzScrubShapes: the scrubber never panics, keeps valid UTF-8 valid, and
// removes a seed, a JWT and a private key wherever they are put in any text.
func FuzzScrubShapes(f *testing.F) {
	f.Add("", "")
	f.Add("error: ", " at line 3")
	f.Add("Bearer ", "@")
	f.Add("-----BEGIN PRIVATE KEY-----", "-----END")
	f.Add(`{"seed":"`, `"}`)
	f.Add("SUAAAA", "AAAA")
	f.Fuzz(func(t *testing.T, before, after string) {
		out := ScrubShapes(before + after)
		if utf8.ValidString(before+after) && !utf8.ValidString(out) {
			t.Fatalf("valid UTF-8 in, invalid out: %q", out)
		}
		for _, secret := range []string{testSeeds[1], testJWT, testPEM} {
			// A separator that is not part of any shape.
			got := ScrubShapes(before + " \x00" + secret + "\x00 " + after)
			core := secret
			if secret == testPEM {
				core = "MIIEowIBAAKCAQEAvx3Lk9Q0pT1c2ZmVq8Y3Z0h9uYq7wXhQeJ0"
			}
			if strings.Contains(got, core) && !strings.Contains(before+after, core) {
				t.Fatalf("secret survived in %q", got)
			}
		}
	})
}
