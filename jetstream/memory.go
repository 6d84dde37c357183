package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// The memory bundle (package memory) checks and audits the store as two of
// its layers: these are the raw reads and writes it needs, so no other
// package touches nats.go.

// CheckStream asks the server for the info of streams RAZAR and
// RAZAR_RESULTS: nil when both answer.
func (s *Store) CheckStream(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, subject := range []string{bus.AuditAll, bus.ResultAll} {
		if _, err := s.streamFor(subject).Info(ctx); err != nil {
			return fmt.Errorf("stream %s: %w", s.streamName(subject), err)
		}
	}
	return nil
}

// CheckState asks the server for bucket RAZAR_STATE's status: nil when it answers.
func (s *Store) CheckState(ctx context.Context) error {
	kv, err := s.bucket()
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := kv.Status(ctx); err != nil {
		return fmt.Errorf("bucket %s: %w", bus.KVBucket, err)
	}
	return nil
}

// PublishRaw publishes data as it is on subject and waits for the ack,
// returning the stream sequence. The caller owns the encoding.
func (s *Store) PublishRaw(ctx context.Context, subject string, data []byte) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	ack, err := s.js.Publish(ctx, subject, data)
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Sequence, nil
}

// MsgData reads the bytes stored at stream sequence seq (a direct get).
func (s *Store) MsgData(ctx context.Context, seq uint64) ([]byte, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("stream message %d: %w", seq, err)
	}
	return m.Data, nil
}

// PurgeSubject removes every message stored on subject (from stream
// RAZAR_RESULTS for razar.result.*, else from stream RAZAR).
func (s *Store) PurgeSubject(ctx context.Context, subject string) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.streamFor(subject).Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("purge %s: %w", subject, err)
	}
	return nil
}

// GetRaw reads the value of key in RAZAR_STATE, or razar.ErrNotFound.
func (s *Store) GetRaw(ctx context.Context, key string) ([]byte, error) {
	kv, err := s.bucket()
	if err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("key %s: %w", key, razar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", key, err)
	}
	return e.Value(), nil
}

// PurgeState removes every key of RAZAR_STATE under prefix (which ends in
// "."), history and markers included, by purging the bucket's stream on
// those subjects: nothing of them is left behind.
func (s *Store) PurgeState(ctx context.Context, prefix string) error {
	if _, err := s.bucket(); err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, kvStream)
	if err != nil {
		return fmt.Errorf("bucket stream %s: %w", kvStream, err)
	}
	subj := "$KV." + bus.KVBucket + "." + prefix + ">"
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return fmt.Errorf("purge %s: %w", subj, err)
	}
	return nil
}
