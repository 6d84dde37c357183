package chakra_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/chakra"
	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

// comps: a is root, b and c are heart, d has no chakra.
var comps = []config.Component{
	{Name: "a", Chakra: "root"},
	{Name: "b", Chakra: "heart"},
	{Name: "c", Chakra: "heart"},
	{Name: "d"},
}

func newService(window time.Duration) (*chakra.Service, *clock.Fake) {
	clk := clock.NewFake(t0)
	s := chakra.New(chakra.Config{Window: window, Clock: clk})
	s.SetComponents(comps)
	return s, clk
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// series returns the chakra_ sample lines of a scrape.
func series(t *testing.T, s *chakra.Service) []string {
	t.Helper()
	code, body := get(t, s.Handler(), "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "chakra_") {
			out = append(out, l)
		}
	}
	return out
}

func wantSeries(t *testing.T, s *chakra.Service, want ...string) {
	t.Helper()
	got := strings.Join(series(t, s), "\n")
	if got != strings.Join(want, "\n") {
		t.Fatalf("scrape:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestEveryConfiguredChakraIsAtZeroFromTheFirstScrape(t *testing.T) {
	s, _ := newService(10 * time.Second)
	// No series for d, which has no chakra.
	wantSeries(t, s,
		`chakra_alignment 0`,
		`chakra_pulse_hz{chakra="heart"} 0`,
		`chakra_pulse_hz{chakra="root"} 0`)
	code, body := get(t, s.Handler(), "/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasSuffix(body, ": heart, root\n") {
		t.Fatalf("/healthz before any beat: %d %q, want 503 naming heart, root", code, body)
	}
}

func TestPulseIsTheBeatsWithinTheSlidingWindowPerSecond(t *testing.T) {
	s, clk := newService(10 * time.Second)
	for i := range 5 { // root beats at 0, 2, 4, 6, 8 s
		if i > 0 {
			clk.Advance(2 * time.Second)
		}
		if !s.Beat("a") {
			t.Fatal("a beat for root but did not count")
		}
	}
	s.Beat("b") // heart: two components' beats add up
	s.Beat("c")
	if s.Beat("d") || s.Beat("nobody") {
		t.Fatal("a beat of a component with no chakra, or not configured, counted")
	}
	wantSeries(t, s,
		`chakra_alignment 1`,
		`chakra_pulse_hz{chakra="heart"} 0.2`,
		`chakra_pulse_hz{chakra="root"} 0.5`)
	// At 11 s the beat of 0 s has left the window; no beat is needed for it to slide.
	clk.Advance(3 * time.Second)
	wantSeries(t, s,
		`chakra_alignment 1`,
		`chakra_pulse_hz{chakra="heart"} 0.2`,
		`chakra_pulse_hz{chakra="root"} 0.4`)
}

func TestAlignmentFlipsWhenAChakraFallsSilentAndBack(t *testing.T) {
	s, clk := newService(10 * time.Second)
	s.Beat("a")
	s.Beat("b")
	if code, body := get(t, s.Handler(), "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz with every chakra beating: %d %q", code, body)
	}
	// heart keeps beating; root falls silent for longer than the window.
	for range 3 {
		clk.Advance(4 * time.Second)
		s.Beat("c")
	}
	if ok, silent := s.Aligned(); ok || len(silent) != 1 || silent[0] != "root" {
		t.Fatalf("Aligned after root fell silent: %v %q, want false [root]", ok, silent)
	}
	wantSeries(t, s,
		`chakra_alignment 0`,
		`chakra_pulse_hz{chakra="heart"} 0.3`,
		`chakra_pulse_hz{chakra="root"} 0`)
	code, body := get(t, s.Handler(), "/healthz")
	if code != http.StatusServiceUnavailable || !strings.HasSuffix(body, "silent for over 10s: root\n") {
		t.Fatalf("/healthz with root silent: %d %q, want 503 naming root alone", code, body)
	}
	s.Beat("a")
	if ok, _ := s.Aligned(); !ok {
		t.Fatal("not aligned again once root beat")
	}
}

func TestAReloadForgetsRemovedChakrasAndKeepsTheBeatsOfTheOthers(t *testing.T) {
	s, _ := newService(10 * time.Second)
	s.Beat("a")
	s.Beat("b")
	// b moves to throat and heart goes away; root keeps its beat.
	s.SetComponents([]config.Component{{Name: "a", Chakra: "root"}, {Name: "b", Chakra: "throat"}})
	wantSeries(t, s,
		`chakra_alignment 0`,
		`chakra_pulse_hz{chakra="root"} 0.1`,
		`chakra_pulse_hz{chakra="throat"} 0`)
}

func TestWithNoChakraConfiguredNothingIsOutOfAlignment(t *testing.T) {
	s := chakra.New(chakra.Config{Clock: clock.NewFake(t0)})
	s.SetComponents([]config.Component{{Name: "d"}})
	wantSeries(t, s, `chakra_alignment 1`)
	if code, _ := get(t, s.Handler(), "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with no chakra configured: %d, want 200", code)
	}
	if s.Window() != 90*time.Second {
		t.Fatalf("default window %v, want 90s (three default probe intervals)", s.Window())
	}
}
