package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
)

// snapshotRoster copies the roster to its .bak snapshot, atomically, at the
// start of a boot cycle, and records it.
func (s *Supervisor) snapshotRoster(ctx context.Context) error {
	src := razar.Home(s.cfg.Home).Roster()
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("snapshot roster: %w", err)
	}
	if err := homedir.WriteAtomic(razar.Home(s.cfg.Home).RosterSnapshot(), data, 0o640); err != nil {
		return fmt.Errorf("snapshot roster: %w", err)
	}
	// A new cycle starts from the roster on disk: every rung reads it afresh.
	_ = s.store.Conn().Publish(bus.AgentsReload, nil)
	s.audit(ctx, &bus.AuditRecord{Event: bus.EventSnapshot, Component: bus.SystemComponent, Message: "roster snapshot taken: " + razar.Home("").RosterSnapshot()})
	s.log.Info().Str("snapshot", razar.Home("").RosterSnapshot()).Msg("roster snapshot taken for this boot cycle")
	return nil
}

// restoreRoster puts the snapshot back, byte for byte, and tells every rung
// to drop its cached config.
func (s *Supervisor) restoreRoster(ctx context.Context) error {
	snap := razar.Home(s.cfg.Home).RosterSnapshot()
	data, err := os.ReadFile(snap)
	if err != nil {
		return fmt.Errorf("read %s: %w", snap, err)
	}
	dst := razar.Home(s.cfg.Home).Roster()
	if cur, err := os.ReadFile(dst); err != nil || !bytes.Equal(cur, data) {
		if err := homedir.WriteAtomic(dst, data, 0o640); err != nil {
			return fmt.Errorf("restore %s: %w", dst, err)
		}
	}
	_ = s.store.Conn().Publish(bus.AgentsReload, nil)
	s.audit(ctx, &bus.AuditRecord{Event: bus.EventRestore, Component: bus.SystemComponent, Message: "roster restored from " + razar.Home("").RosterSnapshot()})
	s.log.Warn().Str("snapshot", razar.Home("").RosterSnapshot()).Msg("roster restored from the boot snapshot")
	return nil
}
