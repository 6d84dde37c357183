package host

import (
	"context"
	"slices"
	"sort"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/config"
	"github.com/razar/razar/hostmetrics"
)

// Reload re-reads config/razar.env, the roster and boot_config.json. All
// are validated first: a reload that fails changes nothing and returns
// why (a *razar.ConfigError for a bad file or variable). Then new
// components start, removed ones stop, changed ones restart; thresholds
// apply to new incidents; every rung drops its cached config. The result
// says what changed, and the warnings about the new settings.
func (h *Host) Reload(ctx context.Context) (string, error) {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	next, err := h.cfg.Reread()
	if err != nil {
		return "", err
	}
	boot, roster, runAsWarnings, err := loadConfigs(h.cfg.BootFile, h.cfg.Home)
	if err == nil {
		err = next.StrictErr
	}
	if err == nil {
		err = h.orch.SetThresholds(h.cfg.thresholds(next.Variables))
	}
	if err != nil {
		next.Undo()
		return "", err
	}
	if later := h.later(next); len(later) > 0 {
		h.log.Warn().Strs("settings", later).Msg("these changed settings take effect at the next `razar boot`")
	}
	for _, w := range runAsWarnings {
		h.log.Warn().Msg(w)
	}
	h.apply(ctx, boot, roster)
	rep := h.sup.Reload(ctx, boot)
	msg := "reloaded: " + rep.String()
	for _, w := range next.Warnings {
		h.log.Warn().Msg(w)
		msg += "\nwarning: " + w
	}
	return msg, nil
}

// later names the changed settings a running RAZAR cannot change in
// place: they wait for the next boot.
func (h *Host) later(next *Reread) []string {
	was, now := h.cfg.Variables, next.Variables
	var later []string
	for name, changed := range map[string]bool{
		"RAZAR_METRICS_ADDR/RAZAR_METRICS_PORT":      now.MetricsAddr != was.MetricsAddr,
		"RAZAR_STATUS_HOSTS":                         !slices.Equal(now.StatusHosts, was.StatusHosts),
		"RAZAR_CHAKRA_ADDR/RAZAR_CHAKRA_PORT":        now.ChakraAddr != was.ChakraAddr,
		"RAZAR_HEALTH_PROBE_INTERVAL":                now.ProbeInterval != was.ProbeInterval,
		"RAZAR_VERIFY_WINDOW":                        now.VerifyWindow != was.VerifyWindow,
		"RAZAR_SETTLE_WINDOW":                        now.SettleWindow != was.SettleWindow,
		"RAZAR_ALERT_WEBHOOK/RAZAR_ALERTMANAGER_URL": now.Webhook != was.Webhook || now.Alertmanager != was.Alertmanager,
		"RAZAR_HOST/RAZAR_STATUS_URL":                now.HostName != was.HostName || now.StatusURL != was.StatusURL,
	} {
		if changed {
			later = append(later, name)
		}
	}
	// The bus is joined once, at boot: a changed variable of it waits too.
	later = append(later, next.BusChanged...)
	sort.Strings(later)
	return later
}

// apply installs a reloaded boot config and roster: identities for new
// rungs, the metrics' series, the heartbeat service's components, the
// rungs' consumers and, in process, the rungs themselves. The ladder's
// thresholds are the orchestrator's already; h.cfg stays as booted (Run
// reads it without the reload lock).
func (h *Host) apply(ctx context.Context, boot *config.BootConfig, roster *config.Roster) {
	h.boot.Store(boot)
	if h.trust != nil {
		if _, err := h.trust.Ensure(rosterNames(roster)); err != nil {
			h.log.Error().Err(err).Msg("could not mint identities for the rungs the roster added")
		}
	}
	old := h.roster.Swap(roster)
	hostmetrics.ZeroSeries(h.metrics, componentNames(boot), rosterNames(roster))
	h.chakra.SetComponents(boot.Components)
	if err := h.orch.DeclareRungs(ctx); err != nil {
		h.log.Error().Err(err).Msg("could not declare the consumers of the reloaded roster's rungs")
	}
	if h.agentsInproc() {
		h.reconcileRungs(old, roster)
	}
	_ = h.nc.Publish(bus.AgentsReload, nil)
}
