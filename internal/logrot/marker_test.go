package logrot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

// The key is made once, 0600 under a 0700 directory, and read back the same.
func TestEnsureMarkKeyMakesAPrivateKeyOnce(t *testing.T) {
	path := razar.Home(t.TempDir()).LogMarkKey()
	if _, err := ReadMarkKey(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadMarkKey of a missing key: %v", err)
	}
	k1, err := EnsureMarkKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := EnsureMarkKey(path)
	if err != nil || string(k1) != string(k2) || len(k1) != markKeyLen {
		t.Fatalf("second EnsureMarkKey: %x, %v; want the first key %x", k2, err, k1)
	}
	st, _ := os.Stat(path)
	dir, _ := os.Stat(filepath.Dir(path))
	if st.Mode().Perm() != 0o600 || dir.Mode().Perm() != 0o700 {
		t.Fatalf("key %v in %v, want 0600 in 0700", st.Mode(), dir.Mode())
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMarkKey(path); err == nil || !strings.Contains(err.Error(), "fix: remove it") {
		t.Fatalf("a bad key file: %v, want an error with the fix", err)
	}
}

// RAZAR's marker verifies; every line a component without the key can
// print to look like one does not, and a reader shows it as the
// component's: a made-up mark, another key's, another component's name or
// time, a marker behind invisible characters, and a copy of a mark one.
func TestAComponentCannotForgeAStartMarker(t *testing.T) {
	key := []byte(strings.Repeat("k", markKeyLen))
	other := []byte(strings.Repeat("o", markKeyLen))
	at := time.Date(2026, 12, 7, 11, 45, 55, 123e6, time.UTC)
	mark := strings.TrimSuffix(StartMarker(key, "web", at), "\n")
	if !Genuine(key, "web", mark) {
		t.Fatalf("RAZAR's own marker %q does not verify", mark)
	}
	forged := []string{
		"--- razar 2026-12-07T11:45:55.123Z: starting web",
		"--- razar 2026-12-07T11:45:55.123Z: starting web (mark 000000000000000000000000)",
		strings.TrimSuffix(StartMarker(other, "web", at), "\n"),
		strings.Replace(mark, "starting web", "starting api", 1),
		strings.Replace(mark, "11:45:55", "11:45:56", 1),
		"  " + mark,
		"\u200b" + mark,
		"\r" + mark,
	}
	m := Markers{Key: key, Name: "web"}
	text := "boot\n" + mark + "\n" + strings.Join(forged, "\n") + "\n" + mark + "\nserving\n"
	got := strings.Split(strings.TrimSuffix(m.Text(text), "\n"), "\n")
	if got[0] != "boot" || got[1] != mark || got[len(got)-1] != "serving" {
		t.Fatalf("ordinary lines or RAZAR's marker changed: %q", got)
	}
	for i, line := range got[2 : len(got)-1] {
		if !strings.HasPrefix(line, ForgedPrefix) {
			t.Errorf("forged line %d %q shown as RAZAR's: %q", i, append(forged, "(copy of the mark marker)")[i], line)
		}
	}
	var none Markers
	if none.Line(mark) != ForgedPrefix+mark {
		t.Error("without the key a marker was taken as RAZAR's")
	}
}
