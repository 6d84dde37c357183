package workspace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
	"github.com/razar/razar/config"
	"github.com/razar/razar/workspace"
)

// plantedKey is a credential the redactor knows; planted in a config file
// and in the log, it must never come out.
const plantedKey = "sk-live-PLANTED-0123456789abcdef"

// home makes a RAZAR home with a component's workdir and log.
func home(t *testing.T, files map[string]string, log string) (string, config.Component) {
	t.Helper()
	h := t.TempDir()
	wd := filepath.Join(h, "services", "ledger")
	for p, text := range files {
		write(t, filepath.Join(wd, p), text)
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		t.Fatal(err)
	}
	if log != "" {
		write(t, filepath.Join(h, "logs", "components", "ledger.log"), log)
	}
	return h, config.Component{Name: "ledger", Command: []string{"sh", "./run.sh", "--config=config/ledger.conf"}, Workdir: wd,
		Validate: []string{"./check.sh"}, Env: map[string]string{"LEDGER_KEY": plantedKey, "LOG_LEVEL": "info"},
		HealthCheck: &razar.HealthCheck{TCP: "127.0.0.1:8450"}}
}

func write(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func redactor(t *testing.T) func(string) string {
	r, err := razar.NewRedactor([]string{plantedKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Redact
}

func view(t *testing.T, h string, c config.Component) *workspace.View {
	t.Helper()
	v, err := workspace.New(c, h, workspace.Options{Redact: redactor(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

var typical = map[string]string{
	"run.sh":              "#!/bin/sh\nexec python3 app.py\n",
	"check.sh":            "#!/bin/sh\npython3 -m py_compile app.py\n",
	"app.py":              "import json\nprint('ledger')\n",
	"config/ledger.conf":  "prot=8450\nhost=127.0.0.1\n",
	"config/ledger.yaml":  "port: 8450\n",
	"README.md":           "the ledger\n",
	"data/blob.bin":       "\x00\x01\x02binary",
	"docs/notes/deep.txt": "deep\n",
}

func TestBuildPutsTheFileNamedInTheErrorFirstThenWhatTheCommandsRun(t *testing.T) {
	h, c := home(t, typical, "starting\nerror: unknown key 'prot' in config/ledger.conf line 1\n")
	w := view(t, h, c).Build("ledger exited 1: see the log")
	if len(w.Files) < 3 {
		t.Fatalf("files shown: %+v", w.Shown())
	}
	if w.Files[0].Path != "config/ledger.conf" || w.Files[0].Why != "named in the error or the log" {
		t.Errorf("first file = %s (%s), want config/ledger.conf named in the log", w.Files[0].Path, w.Files[0].Why)
	}
	if !strings.Contains(w.Files[0].Text, "prot=8450") {
		t.Errorf("the named file's text is missing: %q", w.Files[0].Text)
	}
	whys := map[string]string{}
	for _, f := range w.Files {
		whys[f.Path] = f.Why
	}
	if whys["run.sh"] != "run by the command" || whys["check.sh"] != "run by the validator" {
		t.Errorf("scripts not chosen as run: %v", whys)
	}
	if _, ok := whys["data/blob.bin"]; ok {
		t.Error("a binary file was shown")
	}
	if w.Entry.Workdir != "services/ledger" || strings.Join(w.Entry.Env, ",") != "LEDGER_KEY,LOG_LEVEL" || w.Entry.Validate[0] != "./check.sh" {
		t.Errorf("entry = %+v", w.Entry)
	}
	if !strings.Contains(w.LogTail, "unknown key 'prot'") {
		t.Errorf("log tail = %q", w.LogTail)
	}
	for _, f := range w.Files {
		if f.Bytes != len(f.Text) || f.SHA256 == "" {
			t.Errorf("%s: bytes %d for %d bytes of text, sha %q", f.Path, f.Bytes, len(f.Text), f.SHA256)
		}
	}
	if len(w.Listing) != 12 { // 8 files, 4 dirs
		t.Errorf("listing has %d entries: %+v", len(w.Listing), w.Listing)
	}
}

func TestBuildStaysWithinTheByteBudget(t *testing.T) {
	files := map[string]string{"run.sh": "exec ./app\n"}
	for i := range 40 {
		files[fmt.Sprintf("conf/part%02d.yaml", i)] = strings.Repeat(fmt.Sprintf("key%d: value\n", i), 200)
	}
	h, c := home(t, files, "")
	c.Context = &config.ContextConfig{MaxBytes: 8000}
	w := view(t, h, c).Build("boom")
	total := 0
	for _, f := range w.Files {
		total += f.Bytes
	}
	if total > 8000 || w.Budget != 8000 {
		t.Errorf("%d bytes of text shown for a budget of %d (%d)", total, 8000, w.Budget)
	}
	if w.FilesOmitted == 0 {
		t.Error("FilesOmitted is 0 with 40 files over the budget")
	}
}

func TestListingIsCappedShallowFirst(t *testing.T) {
	files := map[string]string{"top.yaml": "a: 1\n"}
	for i := range 600 {
		files[fmt.Sprintf("many/f%03d.txt", i)] = "x\n"
	}
	h, c := home(t, files, "")
	w := view(t, h, c).Build("")
	if len(w.Listing) != workspace.MaxListing || w.ListingOmitted != 602-workspace.MaxListing {
		t.Errorf("listing %d entries, %d omitted", len(w.Listing), w.ListingOmitted)
	}
	if w.Listing[0].Path != "many" || w.Listing[1].Path != "top.yaml" {
		t.Errorf("listing does not start with the top level: %v %v", w.Listing[0].Path, w.Listing[1].Path)
	}
}

// secretFiles are files the default deny-list hides, each holding a
// marker that must never come out.
var secretFiles = map[string]string{
	".env":                 "LEAK_DOTENV=1\n",
	".env.production":      "LEAK_DOTENV_PROD=1\n",
	"tls/server.pem":       "LEAK_PEM\n",
	"tls/server.key":       "LEAK_KEY\n",
	"tls/client.p12":       "LEAK_P12\n",
	"id_ed25519":           "LEAK_ID\n",
	"config/secrets.yaml":  "LEAK_SECRETS\n",
	"secret/db.conf":       "LEAK_SECRET_DIR\n",
	"aws_credentials.json": "LEAK_CREDENTIAL\n",
	"nats.creds":           "LEAK_CREDS\n",
	"api_token.txt":        "LEAK_TOKEN\n",
	".git/config":          "LEAK_GIT\n",
	".ssh/authorized_keys": "LEAK_SSH\n",
	"Config/API_TOKEN":     "LEAK_UPPER_TOKEN\n",
}

func TestDenyListedFilesAndPlantedKeysNeverReachTheWorkspaceOrATool(t *testing.T) {
	files := map[string]string{
		"run.sh":             "exec ./app\n",
		"config/ledger.conf": "port=8450\napi_key=" + plantedKey + "\n",
	}
	for p, text := range secretFiles {
		files[p] = text
	}
	errText := "failed reading .env and tls/server.key and config/secrets.yaml and api_token.txt"
	h, c := home(t, files, "boot with key "+plantedKey+"\nopened .env\n")
	v := view(t, h, c)
	check := func(what string, x any) {
		t.Helper()
		b, _ := json.Marshal(x)
		s := string(b)
		if strings.Contains(s, "LEAK_") || strings.Contains(s, plantedKey) {
			t.Errorf("%s leaks: %s", what, s)
		}
		for _, enc := range razar.Encodings(plantedKey) {
			if strings.Contains(s, enc) {
				t.Errorf("%s leaks the key encoded: %s", what, enc)
			}
		}
	}
	w := v.Build(errText)
	check("the workspace", w)
	for _, f := range w.Listing {
		if _, denied := secretFiles[f.Path]; denied || strings.HasPrefix(f.Path, ".git") || strings.HasPrefix(f.Path, ".ssh") || f.Path == "secret" {
			t.Errorf("denied entry listed: %s", f.Path)
		}
	}
	if !strings.Contains(w.LogTail, razar.Redacted) {
		t.Errorf("the log's key was not redacted: %q", w.LogTail)
	}
	ctx := context.Background()
	for p := range secretFiles {
		a := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: p})
		check("read "+p, a.Reply)
		if a.Reply.OK || a.Verdict != workspace.VerdictDenied || !strings.Contains(a.Reply.Error, "nothing was read") {
			t.Errorf("read %s: %+v %s", p, a.Reply, a.Verdict)
		}
	}
	for _, req := range []razar.ToolRequest{
		{Op: razar.ToolList}, {Op: razar.ToolList, Glob: "**"}, {Op: razar.ToolList, Glob: ".*"},
		{Op: razar.ToolSearch, Pattern: "LEAK_"}, {Op: razar.ToolSearch, Pattern: "sk-live"}, {Op: razar.ToolSearch, Pattern: "."},
		{Op: razar.ToolRead, Path: "config/ledger.conf"}, {Op: razar.ToolLog}, {Op: razar.ToolLog, Pattern: "key"},
	} {
		a := v.Serve(ctx, req)
		r := a.Reply
		if req.Op == razar.ToolSearch {
			r.Text = "" // it quotes the pattern back
		}
		check(fmt.Sprintf("%+v", req), r)
	}
	if a := v.Serve(ctx, razar.ToolRequest{Op: razar.ToolRead, Path: "config/ledger.conf"}); !strings.Contains(a.Reply.Text, "api_key="+razar.Redacted) {
		t.Errorf("the config's key was not redacted in place: %q", a.Reply.Text)
	}
}

func TestReadRefusesPathsOutsideTheWorkdirSymlinksBinariesAndLargeFiles(t *testing.T) {
	h, c := home(t, map[string]string{"ok.txt": "fine\n", "bin.dat": "a\x00b", "bad.txt": "\xff\xfe", "dir/in.txt": "x\n"}, "")
	write(t, filepath.Join(h, "outside.txt"), "LEAK_OUTSIDE\n")
	write(t, filepath.Join(c.Workdir, "big.txt"), strings.Repeat("y", workspace.MaxFileBytes+1))
	must(t, os.Symlink(filepath.Join(h, "outside.txt"), filepath.Join(c.Workdir, "link.txt")))
	must(t, os.Symlink("ok.txt", filepath.Join(c.Workdir, "inner-link.txt")))
	must(t, os.Symlink(h, filepath.Join(c.Workdir, "linkdir")))
	v := view(t, h, c)
	for _, tc := range []struct {
		path, verdict, says string
	}{
		{"../outside.txt", workspace.VerdictOutside, "uses .."},
		{"dir/../../outside.txt", workspace.VerdictOutside, "uses .."},
		{filepath.Join(h, "outside.txt"), workspace.VerdictOutside, "absolute"},
		{"link.txt", workspace.VerdictSymlink, "symlink"},
		{"inner-link.txt", workspace.VerdictSymlink, "symlink"},
		{"linkdir/outside.txt", workspace.VerdictSymlink, "linkdir is a symlink"},
		{"bin.dat", workspace.VerdictBinary, "not text"},
		{"bad.txt", workspace.VerdictBinary, "not text"},
		{"big.txt", workspace.VerdictTooLarge, "cap"},
		{"nope/ok.txt", workspace.VerdictMissing, "files named ok.txt: ok.txt"},
		{"", workspace.VerdictBad, "no path"},
	} {
		a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: tc.path})
		if a.Reply.OK || a.Verdict != tc.verdict || !strings.Contains(a.Reply.Error, tc.says) || strings.Contains(a.Reply.Text, "LEAK") {
			t.Errorf("read %q: verdict %q, reply %+v; want %q saying %q", tc.path, a.Verdict, a.Reply, tc.verdict, tc.says)
		}
	}
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolList})
	for _, e := range a.Reply.Entries {
		if strings.Contains(e.Path, "link") {
			t.Errorf("a symlink is listed: %s", e.Path)
		}
	}
}

func TestContextIncludeLiftsTheDenyListAndExcludeHidesMore(t *testing.T) {
	h, c := home(t, map[string]string{"tokenizer.json": "{\"vocab\": 1}\n", "private/notes.txt": "LEAK_PRIVATE\n", "app.yaml": "a: 1\n"}, "")
	c.Context = &config.ContextConfig{Include: []string{"tokenizer.json"}, Exclude: []string{"private"}}
	v := view(t, h, c)
	w := v.Build("")
	if len(w.Files) == 0 || w.Files[0].Path != "tokenizer.json" || w.Files[0].Why != "context.include" {
		t.Errorf("the included file is not first: %+v", w.Shown())
	}
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: "private/notes.txt"})
	if a.Reply.OK || a.Verdict != workspace.VerdictDenied || !strings.Contains(a.Reply.Error, `context.exclude "private"`) {
		t.Errorf("excluded read: %+v", a)
	}
}

func TestReadShowsAWindowOfNumberedLinesAndSaysHowToGoOn(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	h, c := home(t, map[string]string{"long.txt": b.String()}, "")
	v := view(t, h, c)
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: "./long.txt", From: 10})
	if !a.Reply.OK || !a.Reply.Truncated || !strings.HasPrefix(a.Reply.Text, "    10\tline 10\n") ||
		!strings.Contains(a.Reply.Text, "   209\tline 209\n") || strings.Contains(a.Reply.Text, "line 210\n") ||
		!strings.Contains(a.Reply.Text, "read from=210 for more") {
		t.Errorf("window: %+v", a.Reply)
	}
	a = v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: "long.txt", From: 600})
	if a.Reply.OK || !strings.Contains(a.Reply.Error, "has 500 lines") {
		t.Errorf("past the end: %+v", a.Reply)
	}
}

func TestSearchFindsLinesCapsMatchesAndExplainsABadPattern(t *testing.T) {
	files := map[string]string{"a.conf": "port=1\nhost=x\n", "b/c.yaml": "port: 2\n"}
	for i := range 60 {
		files[fmt.Sprintf("many/m%02d.txt", i)] = "needle\n"
	}
	h, c := home(t, files, "")
	v := view(t, h, c)
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: `port\s*[:=]`})
	if !a.Reply.OK || len(a.Reply.Matches) != 2 || a.Reply.Matches[0] != (razar.Match{Path: "a.conf", Line: 1, Text: "port=1"}) {
		t.Errorf("search: %+v", a.Reply)
	}
	a = v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: "needle"})
	if len(a.Reply.Matches) != workspace.MaxMatches || !a.Reply.Truncated {
		t.Errorf("cap: %d matches, truncated %v", len(a.Reply.Matches), a.Reply.Truncated)
	}
	a = v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: "needle", Glob: "m0*.txt"})
	if len(a.Reply.Matches) != 10 {
		t.Errorf("glob: %d matches", len(a.Reply.Matches))
	}
	a = v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: "(unclosed"})
	if a.Reply.OK || !strings.Contains(a.Reply.Error, "not an RE2 regular expression") {
		t.Errorf("bad pattern: %+v", a.Reply)
	}
}

func TestSearchAnchoredPatternFindsLinesPastTheFirst(t *testing.T) {
	h, c := home(t, map[string]string{"a.conf": "host=x\nport=1\n"}, "")
	v := view(t, h, c)
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: `^port=`})
	if !a.Reply.OK || len(a.Reply.Matches) != 1 || a.Reply.Matches[0] != (razar.Match{Path: "a.conf", Line: 2, Text: "port=1"}) {
		t.Errorf("anchored search: %+v", a.Reply)
	}
}

func TestLogTailsAndGreps(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	b.WriteString("ERROR: boom\n")
	h, c := home(t, map[string]string{"x": "y"}, b.String())
	v := view(t, h, c)
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolLog, Lines: 3})
	if !a.Reply.OK || a.Reply.Text != "line 99\nline 100\nERROR: boom" {
		t.Errorf("tail: %+v", a.Reply)
	}
	a = v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolLog, Pattern: "ERROR|line 7$"})
	if a.Reply.Text != "line 7\nERROR: boom" {
		t.Errorf("grep: %q", a.Reply.Text)
	}
}

func TestAttemptAndCheckAreNotServedByTheView(t *testing.T) {
	h, c := home(t, map[string]string{"x": "y"}, "")
	a := view(t, h, c).Serve(context.Background(), razar.ToolRequest{Op: razar.ToolCheck, Diff: "x"})
	if a.Reply.OK || a.Verdict != workspace.VerdictNotServed {
		t.Errorf("check: %+v", a)
	}
}

func TestRecentlyModifiedConfigComesBeforeOldText(t *testing.T) {
	h, c := home(t, map[string]string{"old.txt": "old\n", "fresh.ini": "[a]\nb=1\n", "zz.yaml": "a: 1\n"}, "")
	old := time.Now().Add(-72 * time.Hour)
	must(t, os.Chtimes(filepath.Join(c.Workdir, "old.txt"), old, old))
	must(t, os.Chtimes(filepath.Join(c.Workdir, "zz.yaml"), old, old))
	w := view(t, h, c).Build("")
	var order []string
	for _, f := range w.Files {
		order = append(order, f.Path)
	}
	if strings.Join(order, ",") != "fresh.ini,zz.yaml,old.txt" {
		t.Errorf("order = %v", order)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEntryShowsEnvNamesNeverValuesNorAURLPassword(t *testing.T) {
	h, c := home(t, map[string]string{"x": "y"}, "")
	c.HealthCheck = &razar.HealthCheck{HTTP: "http://admin:hunter2pass@127.0.0.1:8450/ready"}
	c.Command = append(c.Command, "--key="+plantedKey)
	b, _ := json.Marshal(view(t, h, c).Build("").Entry)
	if strings.Contains(string(b), "hunter2pass") || strings.Contains(string(b), plantedKey) || strings.Contains(string(b), "info") {
		t.Errorf("entry leaks: %s", b)
	}
}

// TestDefaultDeniedIsDefaultDeny: the fast matcher agrees with the
// documented globs on names that match each, and on names that match none.
func TestDefaultDeniedIsDefaultDeny(t *testing.T) {
	names := []string{".env", ".env.local", ".ENV", "a.pem", "x.key", "k.p12", "id_rsa", "ID_ED25519", "mysecret.yaml", "secrets",
		"aws_credentials", "Credentials.json", "nats.creds", "api_token", "TOKENS", ".git", ".ssh",
		"env", "app.yaml", "keys", "x.keys", "pem", "idrsa", ".gitignore", ".sshd", "creds", "tok"}
	for _, n := range names {
		want := ""
		for _, g := range workspace.DefaultDeny {
			if ok, _ := filepath.Match(g, strings.ToLower(n)); ok {
				want = g
				break
			}
		}
		if got := workspace.DefaultDenied(n); (got == "") != (want == "") {
			t.Errorf("%s: matcher says %q, globs say %q", n, got, want)
		}
	}
}

// TestAWorkdirHoldingTheHomeNeverShowsRAZARsOwnFiles: a component without
// a workdir runs in the RAZAR home; its rungs never see the identities'
// seeds, razar.env, the store or the logs of other components, even with
// a context.include that names them.
func TestAWorkdirHoldingTheHomeNeverShowsRAZARsOwnFiles(t *testing.T) {
	h := t.TempDir()
	for p, text := range map[string]string{
		"config/razar.env":                         "LEAK_RAZAR_ENV\n",
		"config/boot_config.json":                  "{\"LEAK_BOOT\": 1}\n",
		"state/identities/.trust/account-razar.nk": "LEAK_SEED\n",
		"state/nats.url":                           "LEAK_URL\n",
		"logs/components/other.log":                "LEAK_OTHER_LOG\n",
		"app.py":                                   "print(1)\n",
	} {
		write(t, filepath.Join(h, p), text)
	}
	c := config.Component{Name: "tool", Command: []string{"python3", "app.py"}, Workdir: h,
		Context: &config.ContextConfig{Include: []string{"config/**", "state/**"}}}
	v := view(t, h, c)
	b, _ := json.Marshal(v.Build("error in config/razar.env and state/nats.url"))
	if strings.Contains(string(b), "LEAK_") || strings.Contains(string(b), "razar.env") {
		t.Errorf("the workspace shows RAZAR's files: %s", b)
	}
	for _, p := range []string{"config/razar.env", "state/identities/.trust/account-razar.nk", "logs/components/other.log"} {
		a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: p})
		if a.Reply.OK || a.Verdict != workspace.VerdictDenied {
			t.Errorf("read %s: %+v", p, a)
		}
	}
	a := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolSearch, Pattern: "LEAK"})
	if len(a.Reply.Matches) != 0 {
		t.Errorf("search: %+v", a.Reply.Matches)
	}
}

// TestTheComponentsOwnSecretEnvValuesAreRedactedEverywhere: a value of the
// component's env whose name says secret is hidden in its files and its
// log even when the records' redactor does not know it; an ordinary
// value (LOG_LEVEL=info) is left alone.
func TestTheComponentsOwnSecretEnvValuesAreRedactedEverywhere(t *testing.T) {
	const dbPass = "correct-horse-battery"
	h, c := home(t, map[string]string{"db.conf": "password=" + dbPass + "\nlevel=info\n"}, "connecting with "+dbPass+"\n")
	c.Env["DB_PASSWORD"] = dbPass
	v, err := workspace.New(c, h, workspace.Options{}) // no records' redactor at all
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	b, _ := json.Marshal(v.Build(""))
	r := v.Serve(context.Background(), razar.ToolRequest{Op: razar.ToolRead, Path: "db.conf"})
	if strings.Contains(string(b), dbPass) || strings.Contains(r.Reply.Text, dbPass) || !strings.Contains(r.Reply.Text, "level=info") {
		t.Errorf("workspace %s\nread %q", b, r.Reply.Text)
	}
}
