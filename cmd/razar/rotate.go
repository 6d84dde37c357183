package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/razar/razar/ctl"
)

const rotateHelp = `A manifest entry names the new key's variable ("env") or a file holding
it, relative to the home ("file"; the roster then reads ${file:PATH}, which a
running rung picks up on reload). With RAZAR running, every process of each
rotated rung is asked, with the rotated roster, whether it loads the new
credential in its own environment. --apply then opens a rotation on the
bus and waits (--wait, default 30m) for two distinct operator identities to
approve it, each with their own creds file:

  razar --creds state/identities/alice.creds approve rotation <id>
  razar --creds state/identities/bob.creds approve rotation <id>
  (razar reject rotation <id> ends it)

Two approvals by one identity, or by two identities with one name, count
once. Once approved it rewrites the roster (keeping
config/razar_ai_agents.json.prev), records a rotation audit record (run by
this OS user, approved by both identities, names and public keys) and
reloads the rungs. When a process is not ready, it writes nothing and exits
1, one line per process that is not ready, or per rung with none running.
With RAZAR not running, --dry-run checks the plan in this shell's
environment only, and --apply is refused: nobody can approve it.

A manifest entry whose new key is another rung's variable or file (k2 given
RSTAR_API_KEY) is refused unless it says "shared_key": true.
`

// rotateCmd is `razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])`:
// ctl prints the rotation's workflow (agents/rotation) as it goes.
func (c *cli) rotateCmd() *cobra.Command {
	var o ctl.RotateOptions
	cmd := c.native("rotate-keys", "--secrets-dir DIR (--dry-run | --apply [--wait 30m])", "rotate remote rungs' credentials from manifests, once two operator identities approve", rotateHelp, func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageErr("usage: razar rotate-keys --secrets-dir DIR (--dry-run | --apply [--wait 30m])")
		}
		return c.client().RotateKeys(ctx, o)
	})
	f := cmd.Flags()
	f.StringVar(&o.SecretsDir, "secrets-dir", "", "`DIR` of rotation manifests (*.json, *.yaml), relative to the home")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan and check it (with the running rungs when RAZAR runs); write nothing")
	f.BoolVar(&o.Apply, "apply", false, "open the rotation, wait for two operator identities to approve it, then rewrite the roster")
	f.DurationVar(&o.Wait, "wait", 30*time.Minute, "how long --apply waits for the approvals (at most 30m)")
	f.StringVar(&o.NATS, "nats", "", "NATS `URL` of the running RAZAR")
	f.StringArrayVar(&o.Approvers, "approver", nil, "no longer taken: two operator identities approve on the bus (razar approve rotation <id>)")
	return cmd
}
