package main

// The longer help of the client commands, shown by `razar help <command>`.

const statusHelp = `Exit status, like systemctl is-failed: 0 while RAZAR runs and every
component runs, is being brought up or repaired (restarting, escalated), or
was stopped by an operator; 1 while the mission is halted or a component is
down with nothing bringing it up (quarantined, failed, left stopped by a
halt or a release, waiting on a halted boot cycle; with <component>: while
that one is), and when RAZAR is not running, after the last recorded state;
2 bad usage or an unknown component. The mission line names the host; a
halted mission says its next step (` + "`razar resume`" + ` once nothing is
quarantined). An escalated component shows the rung holding its incident
now, or when the next attempt starts during a --long-task backoff.
`

const fixesHelp = `The fix memory (docs/FIXES.md): when an incident heals with a patch that
held, RAZAR remembers the diff under the failure's signature (the component
and its failure text with times, temp paths, ids, pids, ports and numbers
masked, hashed). The next incident with that signature tries the remembered
fix first, as an attempt of rung "memory", through the same checks as any
patch; a fix whose files changed since is skipped, one that fails is marked
and not tried again until it heals anew. A fix whose patch was rolled back
(razar rollback-patch) is marked undone and never replayed unless pinned
again; one that adds files or executable bits waits for razar approve
(RAZAR_FIX_MEMORY_NEW_FILES=never: it is never replayed).

fixes list and fixes show read the memory of the running RAZAR (every
identity may). fixes forget drops a signature's fixes, so its next
occurrence climbs the ladder; fixes pin makes a fix (the newest, or --fix
ID) a permanent rule: tried first and kept when it fails. Both are recorded
on the audit stream and need an operator identity. RAZAR_FIX_MEMORY=off
turns the memory off.
`

const memoryHelp = `memory init checks every memory layer: stream RAZAR, bucket RAZAR_STATE, the
patch store (state/patches/, a private directory) and each layer of "memory"
in config/boot_config.json, probed like a health check. It writes the
razar_memory_init_* gauges of --source to monitoring/boot_metrics.prom (the
other sources' lines are kept) and one line to logs/razar.log. It only reads
the store, so it runs in the CLI, as the operator identity with RAZAR
running, or on the home's store with RAZAR stopped. Exit 1 when a layer failed.

memory audit writes --items items through the stream, the bucket and the
patch store, reads each back, checks its SHA-256 digest, removes them and
records a "memory" audit record. The stream and the bucket take writes from
the orchestrator alone, so with RAZAR running the audit runs inside it (verb
memory_audit); with RAZAR stopped it runs here on the home's store. Exit 1
when any item fails verification.
`

const identityHelp = `Identities are NATS users of this home's embedded bus, each a creds file
(state/identities/<name>.creds, 0600) that the nats CLI takes with --creds:

  nats --creds state/identities/operator.creds --server "$(cat state/nats.url)" \
      req razar.lifecycle.status._all ''

The first boot mints orchestrator, operator, observer and one per rung. Roles:
  operator  lifecycle commands (stop, start, approve, ...), rung probes, and reading everything
  observer  reading everything, and status
  rung      one rung's own attempts, results, heartbeat and probe, for a rung on another host
            (the name is the rung's: razar identity add k2 --role rung)

People's identities (operator, observer, and every one identity add mints)
expire, after 90 days unless --expires says otherwise (30d, 12h, at most
730d); the standard operator and observer on the host are renewed at boot
(same key) in their last 30 days. The machine identities (orchestrator,
control, the rungs on this host) do not expire.

  razar identity revoke <name|public-key>   ends an identity at once: the
      running server refuses it and closes its connections, no restart
  razar identity list                        name, role, key, expiry, revoked

Lifecycle commands and approvals are recorded under the identity the server
authenticated, by name and public key. Hand a creds file over as you would a
private key. The signing seeds live in state/trust/ (0700), which is never
handed out.`

const resumeHelp = `After a halt (Boot sequence halted; configuration rolled back to safe
defaults), fix the component the halt names, release it with
` + "`razar release <component>`" + `, then ` + "`razar resume`" + `: the halted boot cycle goes on
from where it stopped, bringing up in priority order every component the
halt left down; what runs or an operator stopped is left alone. It refuses
while a component is still quarantined. The cycle runs in RAZAR: follow it
with ` + "`razar status`" + `; the halt's alert resolves when it completes.
With RAZAR stopped (a halted ` + "`razar boot --once`" + ` has exited), release, then
` + "`razar boot`" + ` starts a new cycle.
`
