package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/statuspage"
)

// statusView is what `razar status` and the status page show.
func (h *Host) statusView(ctx context.Context, component string) (*bus.StatusView, error) {
	mission, err := h.sup.View(component)
	if err != nil {
		return nil, err
	}
	incidents, rungs, err := h.orch.Status(ctx, component)
	if err != nil && mission.Store == "" {
		return nil, err
	}
	view := &bus.StatusView{Host: h.hostInfo(), Mission: mission, Incidents: incidents, Agents: rungs}
	for _, p := range h.orch.Approvals() {
		if component == bus.AllComponents || p.Component == component {
			view.Approvals = append(view.Approvals, p)
		}
	}
	return view, nil
}

// hostInfo names this RAZAR in status replies.
func (h *Host) hostInfo() *bus.HostInfo {
	name, _ := os.Hostname()
	return &bus.HostInfo{Name: name, Home: h.cfg.Home, PID: os.Getpid(), Started: h.started}
}

// statusURL is the status page alerts link to: RAZAR_STATUS_URL, else the
// metrics listener's address, named by the first RAZAR_STATUS_HOSTS name
// or the host name (RAZAR_HOST) when it listens on every address.
func (h *Host) statusURL() string {
	v := h.cfg.Variables
	if v.StatusURL != "" {
		return v.StatusURL
	}
	addr := v.MetricsAddr
	if h.ln != nil {
		addr = h.ln.Addr().String()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = v.HostName
		if len(v.StatusHosts) > 0 {
			host = v.StatusHosts[0]
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// reconcileAlerts settles the alerts the last run left open before the
// boot cycle starts: one whose cause lasts (its component still
// quarantined, its incident still open, a boot-cycle alert the cycle
// settles itself) fires on; one whose cause ended while RAZAR was stopped
// (`razar release` offline) is resolved.
func (h *Host) reconcileAlerts(ctx context.Context) {
	quarantined := map[string]bool{}
	if m, err := h.sup.View(bus.AllComponents); err == nil {
		for _, c := range m.Components {
			quarantined[c.Name] = c.Status == bus.StatusQuarantined
		}
	}
	open := map[string]bool{}
	recs, err := h.orch.Incidents(ctx)
	if err != nil {
		h.log.Warn().Err(err).Msg("could not list incidents; the last run's open alerts stay open")
		return
	}
	for _, r := range recs {
		open[r.ID] = !r.State.Final()
	}
	kept, resolved, err := h.alerts.Reconcile(ctx, func(m bus.AlertMsg) bool {
		return m.Component == bus.SystemComponent || quarantined[m.Component] || (m.Incident != "" && open[m.Incident])
	})
	if err != nil {
		h.log.Warn().Err(err).Msg("the last run's open alerts")
	}
	if kept+resolved > 0 {
		h.log.Info().Int("still_firing", kept).Int("resolved", resolved).Msg("settled the alerts the last run left open")
	}
}

// refuseSharedAccount stops a boot on an external bus whose account
// another RAZAR already serves. Two orchestrators in one account share
// every subject, key and consumer: a `razar stop web` meant for one host
// would stop web on all of them, and their rungs would take each other's
// escalations. One account per host keeps them apart (docs/SCALE.md §5).
// It asks before this RAZAR listens, so only another one can answer; two
// boots at the same moment can both pass, which the doc says.
func (h *Host) refuseSharedAccount(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	rep, err := bus.Command(cctx, h.nc, bus.VerbStatus, bus.AllComponents, nil)
	if errors.Is(err, bus.ErrNotRunning) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	other := "another RAZAR"
	if rep != nil {
		var view bus.StatusView
		if json.Unmarshal(rep.Data, &view) == nil && view.Host != nil {
			other = fmt.Sprintf("the RAZAR of host %s (home %s, pid %d)", view.Host.Name, view.Host.Home, view.Host.PID)
		}
	} else if err != nil {
		// Not an answer we can read, but someone listens on the lifecycle bus.
		h.log.Warn().Err(err).Msg("checking for another RAZAR on the bus")
		return nil
	}
	return fmt.Errorf("%s already serves this bus account at %s: two RAZARs in one account share every subject, key and consumer, so one's commands and rungs would act on the other's components (fix: give each host its own NATS account, docs/SCALE.md section 5, or stop that RAZAR first)", other, bus.RedactURL(h.cfg.NATSURL))
}

// pageStatus is what the status page reads of the host.
type pageStatus struct{ h *Host }

var _ statuspage.Status = pageStatus{}

// StatusView is the status of every component, as `razar status` shows it.
func (p pageStatus) StatusView(ctx context.Context) (*bus.StatusView, error) {
	return p.h.statusView(ctx, bus.AllComponents)
}

// FixMemory reads the fix memory's counters and newest signatures; nil
// when the memory is off.
func (p pageStatus) FixMemory() *statuspage.FixMemory {
	mem := p.h.orch.Fixes()
	if mem == nil || p.h.fixMetrics == nil {
		return nil
	}
	v := &statuspage.FixMemory{}
	m := p.h.fixMetrics
	for _, c := range []struct {
		to *float64
		c  prometheus.Counter
	}{{&v.Hits, m.Hits}, {&v.Misses, m.Misses}, {&v.Stale, m.Stale}, {&v.Heals, m.Heals}, {&v.Learned, m.Learned}} {
		var m dto.Metric
		if c.c.Write(&m) == nil {
			*c.to = m.GetCounter().GetValue()
		}
	}
	entries := mem.List()
	if n := len(entries) - 10; n > 0 {
		entries, v.More = entries[:10], n
	}
	for _, e := range entries {
		v.Entries = append(v.Entries, statuspage.FixEntry{Signature: e.Signature, Component: e.Component, Failure: e.Failure,
			Fixes: e.Fixes, Usable: e.Usable, Pinned: e.Pinned})
	}
	return v
}
