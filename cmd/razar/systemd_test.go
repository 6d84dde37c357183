package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "../../dist/razar.service"

// unitDirectives reads a unit file's [Service] lines as directive → values.
func unitDirectives(t *testing.T, section string) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			in = line == "["+section+"]"
		case in:
			k, v, _ := strings.Cut(line, "=")
			out[k] = append(out[k], v)
		}
	}
	return out
}

// verifyUnit runs systemd-analyze verify on unit text, with ExecStart's
// binary the razar this test built (verify wants it to exist), and returns
// what it said.
func verifyUnit(t *testing.T, text string) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "razar.service")
	text = strings.ReplaceAll(text, "/usr/local/bin/razar", razarBin)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestSystemdUnitVerifies: systemd itself accepts dist/razar.service
// without a word (verify exits 0 on an option it ignores, so any output
// fails), and the same check fails on a unit with a bad line.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (make tools installs systemd)")
	}
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := verifyUnit(t, string(data)); err != nil || out != "" {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
	bad := strings.Replace(string(data), "KillMode=process", "KillMode=processes", 1)
	if out, err := verifyUnit(t, bad); err == nil && out == "" {
		t.Fatal("verify said nothing of KillMode=processes: this test could not fail")
	}
}

// TestSystemdUnitLetsComponentsOutliveRazar: the choices supervision needs
// are in the unit, and none of the options that would hide the
// components' paths or break the sandbox.
func TestSystemdUnitLetsComponentsOutliveRazar(t *testing.T) {
	svc := unitDirectives(t, "Service")
	for k, want := range map[string]string{
		"KillMode":                 "process",                 // components outlive a restart and are adopted
		"OOMPolicy":                "continue",                // a component's OOM kill does not stop the unit
		"Restart":                  "on-failure",              // a dead RAZAR comes back and adopts
		"RestartPreventExitStatus": "2",                       // a config error does not loop
		"ExecReload":               "/bin/kill -HUP $MAINPID", // systemctl reload is razar reload
		"ExecStart":                "/usr/local/bin/razar boot",
	} {
		if got := strings.Join(svc[k], " | "); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"PrivateTmp", "ProtectHome", "ProtectSystem", "ProtectKernelTunables", "ProtectProc",
		"RestrictNamespaces", "NoNewPrivileges", "PrivateDevices", "ProtectClock", "KillSignal", "ExecStop"} {
		if v, set := svc[k]; set {
			t.Errorf("%s=%s is set: docs/SYSTEMD.md says why it is left out", k, strings.Join(v, " "))
		}
	}
}

// TestSystemdUnitEveryDirectiveIsExplained: docs/SYSTEMD.md names each
// directive the unit sets, so none is there without its reason.
func TestSystemdUnitEveryDirectiveIsExplained(t *testing.T) {
	doc, err := os.ReadFile("../../docs/SYSTEMD.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"Unit", "Service"} {
		for k := range unitDirectives(t, section) {
			switch k {
			case "Description", "Documentation", "Environment", "WorkingDirectory", "ExecStart":
				continue // said in Installing
			}
			if !strings.Contains(string(doc), "`"+k+"=") && !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("docs/SYSTEMD.md does not explain %s=", k)
			}
		}
	}
}
