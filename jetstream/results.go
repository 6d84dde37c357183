package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/razar/razar/bus"
)

// The rungs' answers (razar.result.>) live in stream RAZAR_RESULTS, apart
// from the record: stream RAZAR holds the escalations and the audit trail
// (the fix memory's records among them), which only the orchestrator
// writes, and discards its oldest past its size. RAZAR_RESULTS is what a
// rung writes: it refuses new answers when full (discard new) and keeps at
// most ResultsMaxPerSubject answers per incident and rung, so a rung that
// floods can fill its own subjects, or refuse new answers until the
// stream ages, but never evict a record or another rung's answer.

// recordConfig is stream RAZAR's declaration.
func recordConfig(l Limits, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        bus.StreamName,
		Description: "RAZAR escalations and audit records",
		Subjects:    bus.StreamSubjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      max(l.StreamMaxAge, 0), // negative: keep forever
		MaxBytes:    l.StreamMaxBytes,
		MaxMsgSize:  l.StreamMaxMsgSize,
		Duplicates:  DuplicateWindow,
		Replicas:    replicas,
		// Direct gets let readers walk the record from a position they
		// hold, keeping no consumer on the server.
		AllowDirect: true,
	}
}

// resultsConfig is stream RAZAR_RESULTS's declaration.
func resultsConfig(l Limits, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        bus.ResultsStreamName,
		Description: "RAZAR rungs' answers: bounded per incident and rung, new ones refused when full",
		Subjects:    bus.ResultsStreamSubjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		// Discard new: a full stream refuses the next answer; no answer
		// and no record is ever discarded to make room. The per-subject
		// limit drops the oldest answers of that subject only: the same
		// rung's, to the same incident.
		Discard:           jetstream.DiscardNew,
		MaxAge:            max(l.StreamMaxAge, 0),
		MaxBytes:          l.ResultsMaxBytes,
		MaxMsgSize:        bus.MaxResultBytes,
		MaxMsgsPerSubject: l.ResultsMaxPerSubject,
		Duplicates:        DuplicateWindow,
		Replicas:          replicas,
		// Direct gets let a rung read back its own last result
		// (razar.result.<incident>.<rung>) with a permission that names
		// the subject, and the orchestrator walk an incident's answers.
		AllowDirect: true,
	}
}

// declareStreams declares streams RAZAR and RAZAR_RESULTS, first moving
// the answers of a store declared before RAZAR_RESULTS existed (moveResults).
func declareStreams(ctx context.Context, js jetstream.JetStream, l Limits, replicas int, logf func(string, ...any)) (stream, results jetstream.Stream, err error) {
	held, err := moveResults(ctx, js, replicas, logf)
	if err != nil {
		return nil, nil, err
	}
	// A limit below what the stream already holds would make the server
	// discard answers to fit: it is raised to what is there instead.
	if l.ResultsMaxBytes >= 0 && held.bytes > l.ResultsMaxBytes {
		if logf != nil {
			logf("stream %s holds %d bytes, more than its limit of %d: the limit is raised to that, so nothing is discarded", bus.ResultsStreamName, held.bytes, l.ResultsMaxBytes)
		}
		l.ResultsMaxBytes = held.bytes
	}
	if l.ResultsMaxPerSubject >= 0 && (held.perSubject < 0 || held.perSubject > l.ResultsMaxPerSubject) {
		if logf != nil && held.moved {
			logf("stream %s holds %d answers on one subject, more than its limit of %d: the limit is raised to that, so nothing is discarded", bus.ResultsStreamName, held.perSubject, l.ResultsMaxPerSubject)
		}
		l.ResultsMaxPerSubject = held.perSubject
	}
	if stream, err = js.CreateOrUpdateStream(ctx, recordConfig(l, replicas)); err != nil {
		return nil, nil, fmt.Errorf("declare stream %s: %w", bus.StreamName, err)
	}
	if results, err = js.CreateOrUpdateStream(ctx, resultsConfig(l, replicas)); err != nil {
		return nil, nil, fmt.Errorf("declare stream %s: %w", bus.ResultsStreamName, err)
	}
	return stream, results, nil
}

// held is what stream RAZAR_RESULTS holds, so its limits are never lowered
// below it: its bytes, and the most answers it may hold on one subject
// (its current per-subject limit, -1 for none; after an upgrade, the most
// it holds on one). moved says an upgrade just ran.
type held struct {
	bytes, perSubject int64
	moved             bool
}

// moveResults upgrades a store declared before RAZAR_RESULTS existed
// (stream RAZAR capturing razar.result.>), losing nothing: RAZAR_RESULTS is
// made a copy of RAZAR's answers (sourced, no limit that could refuse
// one, no deduplication), RAZAR stops capturing razar.result.>, and once
// the copy holds every answer RAZAR does they are purged from RAZAR;
// declareStreams then gives RAZAR_RESULTS its subjects and limits. Each
// step is safe to repeat: a move cut short (a crash, a leader lost) is
// finished by the next Open. While it runs, a rung's publish gets no
// answer and is retried. Without anything to move it only reports what
// RAZAR_RESULTS holds.
func moveResults(ctx context.Context, js jetstream.JetStream, replicas int, logf func(string, ...any)) (held, error) {
	rec, err := js.Stream(ctx, bus.StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return held{}, nil // a new store
	}
	if err != nil {
		return held{}, fmt.Errorf("stream %s: %w", bus.StreamName, err)
	}
	rc := rec.CachedInfo().Config
	res, err := js.Stream(ctx, bus.ResultsStreamName)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return held{}, fmt.Errorf("stream %s: %w", bus.ResultsStreamName, err)
	}
	moving := err == nil && len(res.CachedInfo().Config.Sources) > 0
	if !moving && !slices.Contains(rc.Subjects, bus.ResultAll) {
		if res == nil {
			return held{}, nil
		}
		// Moved already. The per-subject limit the stream has is kept
		// if higher than the one asked for: lowering it would discard.
		c := res.CachedInfo()
		return held{bytes: int64(c.State.Bytes), perSubject: c.Config.MaxMsgsPerSubject}, nil
	}
	if logf != nil {
		logf("upgrading the store: moving the rungs' answers from stream %s to stream %s", bus.StreamName, bus.ResultsStreamName)
	}
	if !moving {
		if res, err = startCopy(ctx, js, rc, replicas); err != nil {
			return held{}, err
		}
	}
	return finishMove(ctx, rec, res, logf)
}

// startCopy creates RAZAR_RESULTS sourcing the answers of stream RAZAR, then
// stops RAZAR capturing them, so the copy has an end.
func startCopy(ctx context.Context, js jetstream.JetStream, rc jetstream.StreamConfig, replicas int) (jetstream.Stream, error) {
	copyCfg := jetstream.StreamConfig{
		Name:        bus.ResultsStreamName,
		Description: "RAZAR rungs' answers, being moved from stream " + bus.StreamName,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      rc.MaxAge,
		MaxBytes:    -1,
		MaxMsgSize:  rc.MaxMsgSize,
		// No duplicate window: two answers with one message id, stored
		// in RAZAR apart, are both copied.
		Replicas: replicas,
		Sources:  []*jetstream.StreamSource{{Name: bus.StreamName, FilterSubject: bus.ResultAll}},
	}
	res, err := js.CreateOrUpdateStream(ctx, copyCfg)
	if err != nil {
		return nil, fmt.Errorf("upgrade: copy the answers of stream %s into stream %s: %w", bus.StreamName, bus.ResultsStreamName, err)
	}
	rc.Subjects = slices.DeleteFunc(slices.Clone(rc.Subjects), func(s string) bool { return s == bus.ResultAll })
	if _, err := js.UpdateStream(ctx, rc); err != nil {
		return nil, fmt.Errorf("upgrade: stop stream %s capturing %s: %w", bus.StreamName, bus.ResultAll, err)
	}
	return res, nil
}

// finishMove waits until RAZAR_RESULTS holds every answer stream RAZAR
// holds, removes them from RAZAR, and reports what RAZAR_RESULTS holds.
func finishMove(ctx context.Context, rec, res jetstream.Stream, logf func(string, ...any)) (held, error) {
	// RAZAR takes no new answers now: the copy is done when it holds as
	// many as RAZAR does.
	want, _, err := countResults(ctx, rec)
	if err != nil {
		return held{}, err
	}
	if err := waitCopied(ctx, res, want); err != nil {
		return held{}, err
	}
	if want > 0 {
		if err := rec.Purge(ctx, jetstream.WithPurgeSubject(bus.ResultAll)); err != nil {
			return held{}, fmt.Errorf("upgrade: remove the copied answers from stream %s: %w", bus.StreamName, err)
		}
	}
	n, most, err := countResults(ctx, res)
	if err != nil {
		return held{}, err
	}
	info, err := res.Info(ctx)
	if err != nil {
		return held{}, fmt.Errorf("upgrade: stream %s: %w", bus.ResultsStreamName, err)
	}
	if logf != nil {
		logf("upgraded the store: stream %s holds the rungs' %d answers", bus.ResultsStreamName, n)
	}
	return held{bytes: int64(info.State.Bytes), perSubject: int64(most), moved: true}, nil
}

// waitCopied polls RAZAR_RESULTS until it holds want answers, or ctx ends.
func waitCopied(ctx context.Context, res jetstream.Stream, want uint64) error {
	for {
		info, err := res.Info(ctx)
		if err != nil {
			return fmt.Errorf("upgrade: stream %s: %w", bus.ResultsStreamName, err)
		}
		if info.State.Msgs >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("upgrade: stream %s holds %d of the %d answers of stream %s: %w (the next start goes on with it)",
				bus.ResultsStreamName, info.State.Msgs, want, bus.StreamName, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// countResults counts the answers st holds, and the most on one subject.
func countResults(ctx context.Context, st jetstream.Stream) (total, most uint64, err error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.ResultAll))
	if err != nil {
		return 0, 0, fmt.Errorf("upgrade: count the answers in stream %s: %w", st.CachedInfo().Config.Name, err)
	}
	for _, n := range info.State.Subjects {
		total += n
		most = max(most, n)
	}
	return total, most, nil
}

// bindResults attaches to the stream holding the answers: RAZAR_RESULTS,
// or, on a store not upgraded yet (read by `razar audit` before the new
// `razar boot` ran), stream RAZAR itself. A store being upgraded has
// neither: ErrNotDeclared, and the caller waits.
func bindResults(ctx context.Context, js jetstream.JetStream, stream jetstream.Stream) (jetstream.Stream, error) {
	var res jetstream.Stream
	_, err := untilStored(ctx, func(ctx context.Context) (err error) {
		res, err = js.Stream(ctx, bus.ResultsStreamName)
		return err
	})
	switch {
	case err == nil && len(res.CachedInfo().Config.Sources) == 0:
		return res, nil
	case err == nil:
		return nil, ErrNotDeclared // mid-upgrade
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if slices.Contains(stream.CachedInfo().Config.Subjects, bus.ResultAll) {
			return stream, nil
		}
		return nil, ErrNotDeclared
	}
	return nil, err
}

// streamFor is the stream holding the messages of subject (a filter
// within one kind): the answers' for razar.result.*, else RAZAR.
func (s *Store) streamFor(subject string) jetstream.Stream {
	if s.results != nil && bus.StreamOf(subject) == bus.ResultsStreamName {
		return s.results
	}
	return s.stream
}

// streamName is the name of streamFor(subject).
func (s *Store) streamName(subject string) string {
	return s.streamFor(subject).CachedInfo().Config.Name
}
