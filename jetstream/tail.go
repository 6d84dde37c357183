package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/razar/razar/bus"
)

// StoredMsg is one message of stream RAZAR (or, for an answer,
// RAZAR_RESULTS), read by its sequence.
type StoredMsg struct {
	Seq     uint64
	Subject string
	Data    []byte
	Time    time.Time
	// MsgID is the message's Nats-Msg-Id header, "" when it has none.
	MsgID string
}

// Next returns the first message on filter stored at sequence seq or after
// (seq 0 is read as 1), or nil when there is none yet. A filter on
// razar.result.> reads stream RAZAR_RESULTS, whose sequences are its own;
// any other, stream RAZAR. It is a direct get:
// it keeps no consumer, so a reader that stops for as long as it likes
// resumes exactly where it says.
func (s *Store) Next(ctx context.Context, filter string, seq uint64) (*StoredMsg, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := s.streamFor(filter).GetMsg(ctx, max(seq, 1), jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s from sequence %d: %w", filter, seq, err)
	}
	return &StoredMsg{Seq: m.Sequence, Subject: m.Subject, Data: m.Data, Time: m.Time, MsgID: m.Header.Get(nats.MsgIdHdr)}, nil
}

// LastSeq returns the sequence of the last message stored in stream RAZAR,
// 0 when it is empty.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	return s.lastSeqOf(ctx, bus.AuditAll)
}

// ResultsLastSeq returns the sequence of the last answer stored in stream
// RAZAR_RESULTS, 0 when it is empty: an answer stored after it has a
// higher one.
func (s *Store) ResultsLastSeq(ctx context.Context) (uint64, error) {
	var last uint64
	_, err := untilStored(ctx, func(ctx context.Context) (err error) {
		last, err = s.lastSeqOf(ctx, bus.ResultAll)
		return err
	})
	return last, err
}

// lastSeqOf is the last sequence of the stream holding subject.
func (s *Store) lastSeqOf(ctx context.Context, subject string) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	st := s.streamFor(subject)
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", s.streamName(subject), err)
	}
	return info.State.LastSeq, nil
}

// DeleteAt removes the message stored at seq in the stream that holds
// subject, if it is on subject: the orchestrator's way to drop an answer
// to a question never asked. A message already gone is no error.
func (s *Store) DeleteAt(ctx context.Context, subject string, seq uint64) error {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	st := s.streamFor(subject)
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s at %d: %w", s.streamName(subject), seq, err)
	}
	if m.Subject != subject {
		return fmt.Errorf("%s at %d is on %s, not %s: not deleted", s.streamName(subject), seq, m.Subject, subject)
	}
	if err := st.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete %s at %d: %w", s.streamName(subject), seq, err)
	}
	return nil
}

// DeleteConsumer removes durable consumer name; one that does not exist is
// no error.
func (s *Store) DeleteConsumer(ctx context.Context, name string) error {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.stream.DeleteConsumer(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", name, err)
	}
	return nil
}

// tailPoll is how often Tail looks for new messages when no notification
// came: a safety net for notifications lost in a reconnect.
const tailPoll = time.Second

// Tail calls fn for each message on filter from sequence from on, one at a
// time and in stream order, until ctx ends (it then returns nil) or fn
// returns an error (returned). fn may take as long as it needs: the reader
// holds its position itself, the server keeps none for it, so nothing is
// redelivered, reordered or given up. idle, when not nil, is called each
// time Tail has caught up with the stream. Read errors (a reconnect) are
// retried.
func (s *Store) Tail(ctx context.Context, filter string, from uint64, fn func(*StoredMsg) error, idle func()) error {
	wake := make(chan struct{}, 1)
	sub, err := s.nc.Subscribe(filter, func(*nats.Msg) {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", filter, err)
	}
	defer sub.Unsubscribe()
	poll := time.NewTicker(tailPoll)
	defer poll.Stop()
	next := max(from, 1)
	// soon is set after a notification found nothing stored yet: on a
	// cluster the publish reaches subscribers before the stream's
	// replicas hold it, so look again shortly, backing off, rather than
	// at the next poll.
	var soon time.Duration
	for ctx.Err() == nil {
		m, err := s.Next(ctx, filter, next)
		if err == nil && m != nil {
			if err := fn(m); err != nil {
				return err
			}
			next, soon = m.Seq+1, 0
			continue
		}
		if err == nil && idle != nil {
			idle()
		}
		var again <-chan time.Time
		if soon > 0 {
			again = time.After(soon)
		}
		select {
		case <-ctx.Done():
		case <-wake:
			soon = time.Millisecond
		case <-again:
			if soon *= 2; soon > tailPoll/4 {
				soon = 0
			}
		case <-poll.C:
		}
	}
	return nil
}
