package razar

import "path/filepath"

// Home is a RAZAR home directory, and its methods are the one list of the
// paths in it (docs/CONTRACT.md section 1, "The RAZAR home"): a path of the
// home that is not a method here does not exist. Each method returns the
// path joined to the home; the empty Home, Home(""), gives each relative
// to the home, as messages, the wire and the docs name them
// ("config/razar_ai_agents.json").
//
// Home only names paths: it creates, opens and checks nothing.
type Home string

func (h Home) join(elem ...string) string {
	return filepath.Join(append([]string{string(h)}, elem...)...)
}

// Dirs are the home's own top-level directories, which RAZAR alone reads
// and writes: no component's view of its workdir shows them.
func (h Home) Dirs() []string {
	return []string{h.StateDir(), h.join("config"), h.Secrets(), h.Logs(), h.Quarantine(), h.join("data"), h.Monitoring()}
}

// config.BootConfig is config/boot_config.json, the components to boot (the
// --config flag names another).
func (h Home) BootConfig() string { return h.join("config", "boot_config.json") }

// Roster is config/razar_ai_agents.json, the agent roster in ladder order.
func (h Home) Roster() string { return h.join("config", "razar_ai_agents.json") }

// RosterPrev is config/razar_ai_agents.json.prev, the roster as it was
// before the last `razar rotate-keys --apply` rewrote it.
func (h Home) RosterPrev() string { return h.join("config", "razar_ai_agents.json.prev") }

// RosterSnapshot is config/razar_ai_agents.bak, the roster as the boot
// cycle found it, restored when a boot halts.
func (h Home) RosterSnapshot() string { return h.join("config", "razar_ai_agents.bak") }

// EnvFile is config/razar.env, the optional KEY=VALUE settings read at
// boot and by `razar reload`.
func (h Home) EnvFile() string { return h.join("config", "razar.env") }

// IdentitySummary is data/identity.json, the identity summary Crown
// fingerprints at the handshake (optional).
func (h Home) IdentitySummary() string { return h.join("data", "identity.json") }

// Logs is logs/, the JSON-lines mirrors of the record for tail and jq.
func (h Home) Logs() string { return h.join("logs") }

// RazarLog is logs/razar.log, RAZAR's own zerolog JSON lines.
func (h Home) RazarLog() string { return h.join("logs", "razar.log") }

// Invocations is logs/razar_ai_invocations.json, one line per agent
// attempt, skip and escalation.
func (h Home) Invocations() string { return h.join("logs", "razar_ai_invocations.json") }

// PatchProposals is logs/razar_ai_patches.json, every patch proposal and
// its validation result.
func (h Home) PatchProposals() string { return h.join("logs", "razar_ai_patches.json") }

// PatchHistory is logs/patch_history.jsonl, the applied, rejected and
// reverted records.
func (h Home) PatchHistory() string { return h.join("logs", "patch_history.jsonl") }

// Dialogues is logs/razar_crown_dialogues.json, the handshake transcript.
func (h Home) Dialogues() string { return h.join("logs", "razar_crown_dialogues.json") }

// StateFile is logs/razar_state.json, mission-level health, quarantine and
// open incidents (rewritten atomically).
func (h Home) StateFile() string { return h.join("logs", "razar_state.json") }

// MirrorPos is logs/.mirror.seq, the audit sequence the logs/ mirror has
// written up to (internal: not in the contract).
func (h Home) MirrorPos() string { return h.join("logs", ".mirror.seq") }

// ComponentLogs is logs/components/, one size-rotated log per component.
func (h Home) ComponentLogs() string { return h.join("logs", "components") }

// ComponentLog is logs/components/<name>.log, component name's stdout and
// stderr.
func (h Home) ComponentLog(name string) string { return h.join("logs", "components", name+".log") }

// Monitoring is monitoring/, the node_exporter textfile directory.
func (h Home) Monitoring() string { return h.join("monitoring") }

// BootMetrics is monitoring/boot_metrics.prom, the textfile gauges of the
// memory bundle and the boot.
func (h Home) BootMetrics() string { return h.join("monitoring", "boot_metrics.prom") }

// Secrets is secrets/, the credential-rotation manifests and key files.
func (h Home) Secrets() string { return h.join("secrets") }

// StateDir is state/, the embedded JetStream store and RAZAR's private
// state (0700).
func (h Home) StateDir() string { return h.join("state") }

// NATSURLFile is state/nats.url, the URL of the running bus.
func (h Home) NATSURLFile() string { return h.join("state", "nats.url") }

// Identities is state/identities/, one NATS identity (creds file) per role.
func (h Home) Identities() string { return h.join("state", "identities") }

// Trust is state/trust/, the account signing seeds, control.creds and
// revoked.json, readable by RAZAR's user only.
func (h Home) Trust() string { return h.join("state", "trust") }

// IDFile is state/home.id, the home's random id, the razar_home label of
// its alerts.
func (h Home) IDFile() string { return h.join("state", "home.id") }

// Alerts is state/alerts.json, the alerts open when RAZAR last ran.
func (h Home) Alerts() string { return h.join("state", "alerts.json") }

// Patches is state/patches/, the patch store: backups, records and
// rollback notes per component and patch.
func (h Home) Patches() string { return h.join("state", "patches") }

// Staging is state/staging/, where patch validation stages its copies.
func (h Home) Staging() string { return h.join("state", "staging") }

// ComponentStates is state/components/, the supervisor's per-component
// files.
func (h Home) ComponentStates() string { return h.join("state", "components") }

// PIDFile is state/components/<name>.json, the process the supervisor
// launched for component name, for adoption after a RAZAR restart.
func (h Home) PIDFile(name string) string {
	return h.join("state", "components", name+".json")
}

// ComponentHold is state/components/<name>.stopped, present while an
// operator holds component name stopped.
func (h Home) ComponentHold(name string) string {
	return h.join("state", "components", name+".stopped")
}

// LogMarkKey is state/components/.logmark.key, the key of the start
// markers in component logs, which a component cannot forge.
func (h Home) LogMarkKey() string { return h.join("state", "components", ".logmark.key") }

// Quarantine is quarantine/, one JSON file per quarantined component.
func (h Home) Quarantine() string { return h.join("quarantine") }

// QuarantineFile is quarantine/<name>.json, component name's quarantine.
func (h Home) QuarantineFile(name string) string { return h.join("quarantine", name+".json") }
