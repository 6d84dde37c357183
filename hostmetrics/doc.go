// Package hostmetrics owns the host's Prometheus series that are read at
// scrape time rather than counted: each component up, held, restarted and
// probed, each rung ready, the mission's health, the patches waiting for
// approval and the build (razar_component_up, razar_rung_ready,
// razar_mission_health, razar_build_info, ...). It also makes the
// orchestrator's invocation counters exist at 0 for every component and
// rung (ZeroSeries), so a rate() or an absent() alert works before the
// first incident.
//
// The Collector reads the supervisor and the orchestrator through the
// Source interface it defines; it holds no state of its own.
//
// Concurrency: Collect may run on any goroutine, as Prometheus scrapes;
// the Source's methods must be safe for concurrent use. The Collector
// starts no goroutine.
package hostmetrics
