// Package chakra measures the pulse of each chakra (the layer a component
// names in boot_config.json: root, heart, throat, ...) from the components'
// heartbeats, and serves it to Prometheus: chakra_pulse_hz{chakra} is the
// beat frequency over a sliding window, chakra_alignment is 1 while every
// configured chakra beat within it.
//
// The package is pure: it neither decodes nor subscribes. The daemon hands
// it the heartbeats it receives on razar.heartbeat.* (Beat) and the
// component -> chakra map of each boot config it loads (SetComponents).
//
// A component without a chakra is not counted: it belongs to no layer, and
// razar_component_up already says whether it is healthy. With no chakra
// configured at all, nothing can be out of alignment: chakra_alignment is 1.
//
// Concurrency: a Service is safe for concurrent use.
package chakra

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/razar/razar/config"
	"github.com/razar/razar/internal/clock"
)

// Config configures a Service.
type Config struct {
	// Window is the sliding window the pulse is measured over, and within
	// which each chakra must beat to be aligned. Default 90 s: three of the
	// default 30 s probe intervals, so one late or lost beat is no alarm.
	Window time.Duration
	// Clock tells the time of each beat and of each scrape. Default clock.Real.
	Clock clock.Clock
}

// Service tracks the beats of each configured chakra.
type Service struct {
	window time.Duration
	clock  clock.Clock
	reg    *prometheus.Registry

	mu      sync.Mutex
	of      map[string]string      // component -> chakra
	chakras []string               // configured, sorted
	beats   map[string][]time.Time // chakra -> its beats within the window, oldest first
}

// New returns a service with no chakra configured; see SetComponents.
func New(cfg Config) *Service {
	if cfg.Window <= 0 {
		cfg.Window = 90 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &Service{window: cfg.Window, clock: cfg.Clock, of: map[string]string{}, beats: map[string][]time.Time{}}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(&collector{s: s,
		pulse: prometheus.NewDesc("chakra_pulse_hz",
			fmt.Sprintf("Heartbeats per second of the chakra's healthy components, over the last %s.", cfg.Window), []string{"chakra"}, nil),
		align: prometheus.NewDesc("chakra_alignment",
			fmt.Sprintf("1 while every configured chakra had a heartbeat within the last %s, else 0.", cfg.Window), nil, nil),
	})
	return s
}

// Window is the sliding window of the pulse.
func (s *Service) Window() time.Duration { return s.window }

// SetComponents sets which chakra each component beats for, from a boot
// config. A chakra no longer configured is forgotten; one still configured
// keeps its beats, so a reload does not break alignment.
func (s *Service) SetComponents(comps []config.Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.of = map[string]string{}
	s.chakras = s.chakras[:0]
	for _, c := range comps {
		ch := strings.TrimSpace(c.Chakra)
		if ch == "" {
			continue
		}
		s.of[c.Name] = ch
		if !slices.Contains(s.chakras, ch) {
			s.chakras = append(s.chakras, ch)
		}
	}
	sort.Strings(s.chakras)
	for ch := range s.beats {
		if !slices.Contains(s.chakras, ch) {
			delete(s.beats, ch)
		}
	}
}

// Beat records a heartbeat of component, now. It reports whether the beat
// counted: false for a component with no chakra, or not configured.
func (s *Service) Beat(component string) bool {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.of[component]
	if !ok {
		return false
	}
	s.beats[ch] = append(s.prune(ch, now), now)
	return true
}

// prune drops the beats of ch older than the window. Call with mu held.
func (s *Service) prune(ch string, now time.Time) []time.Time {
	b := s.beats[ch]
	i := 0
	for i < len(b) && now.Sub(b[i]) > s.window {
		i++
	}
	b = b[i:]
	s.beats[ch] = b
	return b
}

// Pulse is one chakra's measured pulse.
type Pulse struct {
	Chakra string
	// Hz is the beats within the window divided by the window.
	Hz float64
	// Beats is how many beats fell within the window; 0 is silent.
	Beats int
}

// Pulses returns the pulse of every configured chakra, by name.
func (s *Service) Pulses() []Pulse {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pulse, 0, len(s.chakras))
	for _, ch := range s.chakras {
		n := len(s.prune(ch, now))
		out = append(out, Pulse{Chakra: ch, Hz: float64(n) / s.window.Seconds(), Beats: n})
	}
	return out
}

// Aligned reports whether every configured chakra beat within the window,
// and the silent ones, by name.
func (s *Service) Aligned() (ok bool, silent []string) {
	for _, p := range s.Pulses() {
		if p.Beats == 0 {
			silent = append(silent, p.Chakra)
		}
	}
	return len(silent) == 0, silent
}

// Handler serves /metrics (the service's own registry) and /healthz: 200
// "ok" while aligned, else 503 naming the silent chakras.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, silent := s.Aligned()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "out of alignment: silent for over %s: %s\n", s.window, strings.Join(silent, ", "))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "RAZAR chakra heartbeat service: /metrics, /healthz")
	})
	return mux
}

// collector reads the pulses at scrape time, so the window slides with no
// beat arriving and every configured chakra is there, at 0, from the first
// scrape.
type collector struct {
	s            *Service
	pulse, align *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.pulse; ch <- c.align }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	aligned := 1.0
	for _, p := range c.s.Pulses() {
		ch <- prometheus.MustNewConstMetric(c.pulse, prometheus.GaugeValue, p.Hz, p.Chakra)
		if p.Beats == 0 {
			aligned = 0
		}
	}
	ch <- prometheus.MustNewConstMetric(c.align, prometheus.GaugeValue, aligned)
}
