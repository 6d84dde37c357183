package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/internal/backoff"
	"github.com/razar/razar/internal/clock"
	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/jsonl"
	"github.com/razar/razar/internal/logrot"
	"github.com/razar/razar/jetstream"
)

// Files are the mirror's files under logs/, relative to the RAZAR home
// (razar.Home names them).
func Files() []string {
	h := razar.Home("")
	return []string{h.Invocations(), h.Dialogues(), h.PatchProposals(), h.PatchHistory()}
}

// File says which logs/ file, relative to the RAZAR home, mirrors an audit
// event, or "" for none.
func File(ev bus.Event) string {
	h := razar.Home("")
	switch ev {
	case bus.EventAttempt, bus.EventSkipped, bus.EventEscalation:
		return h.Invocations()
	case bus.EventHandshake:
		return h.Dialogues()
	case bus.EventPatch, bus.EventPending:
		return h.PatchProposals()
	case bus.EventApplied, bus.EventRejected, bus.EventReverted:
		return h.PatchHistory()
	}
	return ""
}

// Mirror copies audit records from the stream, the record of truth, into the
// JSON-lines files under logs/ for tail and jq. Each record is appended as
// one whole line carrying its stream sequence ("seq").
//
// The mirror never gives a record up. It reads the stream in order from its
// own position (jetstream.Store.Tail: no consumer on the server that could
// drop a record after too many deliveries), and a record it cannot write (a
// full disk, a removed directory, a planted link) is retried with a capped
// backoff until it is written, holding back the ones after it.
//
// Where it is: each file's own last line says the highest sequence in it,
// which is read once when the file is opened, so a record already in the
// file (a replay after a crash) is not written twice. The position in the
// whole stream, past records of no file, is kept in logs/.mirror.seq
// (logs/.mirror.seq), written atomically whenever the mirror has caught up,
// after the files are synced; it only saves the replay of what is already
// mirrored, so a lost or stale one costs time, never a record. A restart,
// after any outage, goes on from there.
//
// Files stay open between records. Before each write a stat of the path
// tells whether the file was rotated or removed; it is then reopened. Each
// file is repaired when opened: a torn last line (no newline, or not JSON:
// a crash mid-write) is cut off. A write that fails or is short is cut
// back, so the file only ever holds whole lines.
type Mirror struct {
	store *jetstream.Store
	home  string
	log   zerolog.Logger

	// retry paces the attempts to write a record.
	retry backoff.Backoff
	// write appends b to f; tests replace it to fail.
	write func(f *os.File, b []byte) (int, error)

	// MaxBytes is the size past which a file is rotated (renamed to
	// <file>.1, the older ones shifted to .2 and .3, the oldest dropped)
	// and a new one started. Default DefaultMaxBytes; 0 never.
	MaxBytes int64

	files map[string]*mirrorFile // by path; only Run's goroutine
	saved uint64                 // position last written to logs/.mirror.seq
	done  atomic.Uint64          // highest stream sequence handled
}

// mirrorFile is one open file of the mirror.
type mirrorFile struct {
	path string
	f    *os.File
	st   os.FileInfo // f's, to tell the path now names another file
	last uint64      // highest sequence written to the file
	cut  bool        // a torn last line was cut off when it was opened
}

// New returns a mirror writing under home.
func New(store *jetstream.Store, home string, log zerolog.Logger) *Mirror {
	return &Mirror{
		store:    store,
		home:     home,
		log:      log,
		retry:    backoff.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second},
		write:    (*os.File).Write,
		files:    map[string]*mirrorFile{},
		MaxBytes: DefaultMaxBytes,
	}
}

// DefaultMaxBytes bounds each logs/ mirror file; three rotated ones
// are kept beside it, so tail and jq see the recent record and the disk a
// bounded amount. The stream keeps the whole record.
const DefaultMaxBytes = 64 << 20

// mirrorKeep is how many rotated files are kept.
const mirrorKeep = 3

// rotate moves a full file aside (<file>.1, shifting the older ones) and
// closes it; the next write starts a new one. Renames never follow links.
func (m *Mirror) rotate(mf *mirrorFile) {
	_ = mf.f.Sync()
	mf.drop()
	if err := logrot.Shift(mf.path, mirrorKeep); err != nil {
		m.log.Warn().Err(err).Str("file", mf.path).Msg("could not rotate a full mirror file; it keeps growing")
		return
	}
	m.log.Info().Str("file", mf.path).Int64("max_bytes", m.MaxBytes).Msg("rotated a mirror file")
}

// Consumer is the durable consumer releases before this one read the audit
// records through. Run deletes it: the mirror keeps its own position.
const Consumer = "razar_mirror"

// Flush waits, at most timeout, until every record stored so far is in the
// files: a clean shutdown leaves logs/ complete. It needs Run running.
func (m *Mirror) Flush(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		next, err := m.store.Next(ctx, bus.AuditAll, m.done.Load()+1)
		if err == nil && next == nil {
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
	defer m.close()
	if err := m.store.DeleteConsumer(ctx, Consumer); err != nil {
		m.log.Debug().Err(err).Msg("could not remove the consumer older releases mirrored through")
	}
	pos := m.repairAll(m.position(ctx))
	m.done.Store(pos)
	m.saved = pos
	err := m.store.Tail(ctx, bus.AuditAll, pos+1, func(msg *jetstream.StoredMsg) error {
		if err := m.mirror(ctx, msg); err != nil {
			return err
		}
		m.done.Store(msg.Seq)
		return nil
	}, m.checkpoint)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// mirror writes one stored record to its file, retrying until it is
// written or ctx ends.
func (m *Mirror) mirror(ctx context.Context, msg *jetstream.StoredMsg) error {
	var rec bus.AuditRecord
	if err := bus.Decode(msg.Data, &rec); err != nil {
		m.log.Warn().Err(err).Str("subject", msg.Subject).Uint64("seq", msg.Seq).Msg("skipped a malformed audit record: no file can hold it")
		return nil
	}
	file := File(rec.Event)
	if file == "" {
		return nil
	}
	rec.Seq = msg.Seq
	line, err := json.Marshal(&rec)
	if err != nil {
		m.log.Warn().Err(err).Uint64("seq", msg.Seq).Msg("skipped an audit record that does not encode")
		return nil
	}
	path := filepath.Join(m.home, file)
	var since time.Time
	for attempt := 1; ; attempt++ {
		err := m.append(path, msg.Seq, line)
		if err == nil {
			if !since.IsZero() {
				m.log.Info().Str("file", file).Uint64("seq", msg.Seq).Int("attempts", attempt).
					Dur("outage", time.Since(since)).Msg("log mirror writes again; it catches up from the stream")
			}
			return nil
		}
		if since.IsZero() {
			since = time.Now()
			m.log.Warn().Err(err).Str("file", file).Uint64("seq", msg.Seq).
				Msg("could not mirror audit record; retrying until it is written (the stream keeps it and those after it)")
		}
		if !sleepCtx(ctx, m.retry.For(attempt)) {
			return ctx.Err()
		}
	}
}

// append writes line, the record of sequence seq, to the file at path
// unless the file already holds it.
func (m *Mirror) append(path string, seq uint64, line []byte) error {
	mf, err := m.file(path)
	if err != nil {
		return err
	}
	if seq <= mf.last {
		return nil
	}
	if err := jsonl.WriteLine(mf.f, mf.path, line, m.write); err != nil {
		mf.drop()
		return err
	}
	mf.last = seq
	if m.MaxBytes > 0 {
		if st, err := mf.f.Stat(); err == nil && st.Size() >= m.MaxBytes {
			m.rotate(mf)
		}
	}
	return nil
}

// file returns the open file for path, opening it when it is not open or
// the path no longer names it (rotated or removed).
func (m *Mirror) file(path string) (*mirrorFile, error) {
	mf := m.files[path]
	if mf == nil {
		mf = &mirrorFile{path: path}
		m.files[path] = mf
	}
	if mf.f != nil {
		if st, err := os.Lstat(path); err == nil && os.SameFile(st, mf.st) {
			return mf, nil
		}
		mf.drop()
	}
	f, err := homedir.OpenAppend(path, 0o640)
	if err != nil {
		return nil, err
	}
	last, cut, err := jsonl.RepairTail(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cut > 0 {
		mf.cut = true
		m.log.Warn().Str("file", path).Int64("bytes", cut).Msg("cut off a torn last line (a crash mid-write); the stream still has its record")
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	mf.f, mf.st = f, st
	// A rotated file starts empty: what went before is in the old one.
	mf.last = max(mf.last, last)
	return mf, nil
}

// drop closes the file; the next write reopens it.
func (mf *mirrorFile) drop() {
	if mf.f != nil {
		mf.f.Close()
		mf.f, mf.st = nil, nil
	}
}

// checkpoint keeps the position when the mirror has caught up: the files
// are synced first, so the position never runs ahead of what is on disk.
func (m *Mirror) checkpoint() {
	pos := m.done.Load()
	if pos == m.saved {
		return
	}
	for _, mf := range m.files {
		if mf.f == nil {
			continue
		}
		if err := mf.f.Sync(); err != nil {
			m.log.Warn().Err(err).Str("file", mf.path).Msg("could not sync a mirror file; its position is kept at the next catch-up")
			mf.drop()
			return
		}
	}
	path := razar.Home(m.home).MirrorPos()
	if err := homedir.WriteAtomic(path, []byte(strconv.FormatUint(pos, 10)+"\n"), 0o640); err != nil {
		m.log.Warn().Err(err).Str("file", path).Msg("could not keep the mirror position; a restart replays from the previous one, writing nothing twice")
		return
	}
	m.saved = pos
}

// close keeps the position and closes the files.
func (m *Mirror) close() {
	m.checkpoint()
	for _, mf := range m.files {
		mf.drop()
	}
}

// position reads the kept position, 0 (mirror the whole stream, each file
// skipping what it holds) when there is none or it is past the stream's
// end (a new store).
func (m *Mirror) position(ctx context.Context) uint64 {
	path := razar.Home(m.home).MirrorPos()
	b, err := readNoFollow(path, 64)
	if errors.Is(err, fs.ErrNotExist) {
		return 0
	}
	var pos uint64
	if err == nil {
		pos, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}
	if err != nil {
		m.log.Warn().Err(err).Str("file", path).Msg("unreadable mirror position; mirroring the whole stream again, writing nothing twice (fix: none needed, RAZAR rewrites it)")
		return 0
	}
	if last, err := m.store.LastSeq(ctx); err == nil && pos > last {
		m.log.Warn().Str("file", path).Uint64("position", pos).Uint64("stream_last", last).Msg("mirror position is past the stream's end (a new store?); mirroring the whole stream")
		return 0
	}
	return pos
}

// repairAll opens each mirror file there is, which cuts off a torn last
// line, and returns the position to mirror from: pos, or, when a file lost
// a torn line, the last record whole in it, so the torn record is written
// again from the stream (the others already in their files are skipped).
func (m *Mirror) repairAll(pos uint64) uint64 {
	for _, name := range Files() {
		path := filepath.Join(m.home, name)
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		mf, err := m.file(path)
		if err != nil {
			continue // the first record for it says so, and retries
		}
		if mf.cut && mf.last < pos {
			m.log.Warn().Str("file", name).Uint64("from", mf.last+1).Msg("mirroring again from the torn record on, so it is whole in logs/")
			pos = mf.last
		}
	}
	return pos
}

// readNoFollow reads at most limit bytes of path, refusing a symlink.
func readNoFollow(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// sleepCtx waits d on the wall clock or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool { return clock.Sleep(ctx, clock.Real{}, d) }
