package orchestrator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/jetstream"
)

// Mirror files under logs/, relative to the RAZAR home.
const (
	InvocationsFile  = "logs/razar_ai_invocations.json"
	PatchesFile      = "logs/razar_ai_patches.json"
	PatchHistoryFile = "logs/patch_history.jsonl"
	DialoguesFile    = "logs/razar_crown_dialogues.json"
)

// MirrorFile says which logs/ file mirrors an audit event, or "" for none.
func MirrorFile(ev bus.Event) string {
	switch ev {
	case bus.EventAttempt, bus.EventSkipped, bus.EventEscalation:
		return InvocationsFile
	case bus.EventHandshake:
		return DialoguesFile
	case bus.EventPatch, bus.EventPending:
		return PatchesFile
	case bus.EventApplied, bus.EventRejected, bus.EventReverted:
		return PatchHistoryFile
	}
	return ""
}

// Mirror copies audit records from the stream, the record of truth, into the
// JSON-lines files under logs/ for tail and jq. Each record is appended as
// one line with its stream sequence; a record already in the file (a
// redelivery after a crash) is not written twice.
type Mirror struct {
	store *jetstream.Store
	home  string
	log   zerolog.Logger

	mu   sync.Mutex
	last map[string]uint64 // file -> highest sequence written
}

// NewMirror returns a mirror writing under home.
func NewMirror(store *jetstream.Store, home string, log zerolog.Logger) *Mirror {
	return &Mirror{store: store, home: home, log: log, last: map[string]uint64{}}
}

// MirrorConsumer is the durable consumer the log mirror reads.
const MirrorConsumer = "razar_mirror"

// Flush waits, at most timeout, until every record stored so far is in the
// files: a clean shutdown leaves logs/ complete.
func (m *Mirror) Flush(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if done, err := m.store.Drained(ctx, MirrorConsumer); err != nil || done {
			return
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			m.log.Warn().Msg("log mirror still behind at shutdown; the rest is mirrored at the next start")
			return
		}
	}
}

// Run mirrors records until ctx ends.
func (m *Mirror) Run(ctx context.Context) error {
	return m.store.Consume(ctx, jetstream.ConsumerConfig{Durable: MirrorConsumer, Filter: bus.AuditAll}, func(_ context.Context, d *jetstream.Delivery) {
		var rec bus.AuditRecord
		if err := bus.Decode(d.Data, &rec); err != nil {
			m.log.Warn().Err(err).Str("subject", d.Subject).Uint64("seq", d.Seq).Msg("dropped a malformed audit record")
			_ = d.Term()
			return
		}
		file := MirrorFile(rec.Event)
		if file == "" {
			_ = d.Ack()
			return
		}
		rec.Seq = d.Seq
		if err := m.append(filepath.Join(m.home, file), &rec); err != nil {
			m.log.Error().Err(err).Str("file", file).Msg("could not mirror audit record; will retry")
			_ = d.Nak(time.Second)
			return
		}
		_ = d.Ack()
	})
}

func (m *Mirror) append(path string, rec *bus.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	last, ok := m.last[path]
	if !ok {
		last = lastSeq(path)
		m.last[path] = last
	}
	if rec.Seq <= last {
		return nil
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := AppendLine(path, line); err != nil {
		return err
	}
	m.last[path] = rec.Seq
	return nil
}

// AppendLine appends one line to a JSON-lines file in a single write, creating
// the file (0640) and its directory (0750). A crash leaves whole lines only:
// a torn last line (from a crash mid-write on another system) is closed off
// first. A symlink at path is refused, never written through (the error
// names the file and says to remove the link).
func AppendLine(path string, line []byte) error {
	f, err := homedir.OpenAppend(path, 0o640)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 0, len(line)+2)
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	buf = append(buf, line...)
	buf = append(buf, '\n')
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	return nil
}

// lastSeq reads the highest "seq" in a JSON-lines file's last 512 KiB,
// several times the largest record (bus.Clip bounds every field).
func lastSeq(path string) uint64 {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	const window = 512 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	var max uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var v struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(bytes.TrimSpace(sc.Bytes()), &v) == nil && v.Seq > max {
			max = v.Seq
		}
	}
	return max
}
