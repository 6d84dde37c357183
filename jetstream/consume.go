package jetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/razar/razar/bus"
)

// Delivery is one message handed to a consumer's handler. The handler must
// settle it: Ack, Nak or Term.
type Delivery struct {
	msg       jetstream.Msg
	Subject   string
	Data      []byte
	Delivered uint64 // how many times this message has been delivered, from 1
	Seq       uint64 // stream sequence
	Time      time.Time
}

// InProgress tells the server the handler is still working, resetting AckWait.
func (d *Delivery) InProgress() error { return d.msg.InProgress() }

// Ack settles the message as done.
func (d *Delivery) Ack() error { return d.msg.Ack() }

// Nak asks for redelivery after delay.
func (d *Delivery) Nak(delay time.Duration) error { return d.msg.NakWithDelay(delay) }

// Term settles the message as never to be redelivered (a poison message).
func (d *Delivery) Term() error { return d.msg.Term() }

// ConsumerConfig declares a durable consumer on stream RAZAR.
type ConsumerConfig struct {
	Durable    string        // required
	Filter     string        // required: subject filter
	AckWait    time.Duration // default DefaultAckWait
	MaxDeliver int           // default DefaultMaxDeliver
	Workers    int           // concurrent handlers in this process, default 1
}

// EnsureAgentConsumer declares durable consumer agent_<name> with filter
// razar.escalate.<name>. Every process of that rung shares it, so each
// attempt goes to exactly one of them.
func (s *Store) EnsureAgentConsumer(ctx context.Context, agent string) error {
	_, err := s.ensureConsumer(ctx, ConsumerConfig{Durable: bus.ConsumerName(agent), Filter: bus.EscalateSubject(agent)})
	return err
}

func (s *Store) ensureConsumer(ctx context.Context, cfg ConsumerConfig) (jetstream.Consumer, error) {
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = DefaultMaxDeliver
	}
	if !s.declares {
		return s.bindConsumer(ctx, cfg.Durable)
	}
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := s.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 256,
		Replicas:      s.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("declare consumer %s: %w", cfg.Durable, err)
	}
	return c, nil
}

// bindConsumer attaches to a durable consumer the orchestrator declared,
// waiting until ctx ends while it does not exist yet: a rung process may
// start before the orchestrator has declared its consumer. A rung may not
// declare consumers: its identity could then make one that reads any
// rung's attempts.
func (s *Store) bindConsumer(ctx context.Context, name string) (jetstream.Consumer, error) {
	logged := false
	for {
		// Each ask bounded: on a cluster the consumer's leader may be
		// gone (killed with its node) until the others elect a new one.
		actx, cancel := context.WithTimeout(ctx, ackWait)
		c, err := s.stream.Consumer(actx, name)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bind consumer %s: %w", name, err)
		}
		if unanswered(err) {
			continue // an election: ask again
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("bind consumer %s: %w", name, err)
		}
		if !logged {
			logged = true
			if s.log != nil {
				s.log("consumer %s does not exist yet; waiting for the orchestrator to declare it", name)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bind consumer %s: %w", name, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Consume declares the durable consumer and runs fn for each message until
// ctx ends, with at most cfg.Workers handlers at once. It returns after every
// handler has returned. fn must settle each delivery.
func (s *Store) Consume(ctx context.Context, cfg ConsumerConfig, fn func(context.Context, *Delivery)) error {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	c, err := s.ensureConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(1), jetstream.PullExpiry(2*time.Second))
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	sem := make(chan struct{}, cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		// Take a worker slot before pulling, so this process only pulls what
		// it can start at once and the other processes of the rung get the rest.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			it.Stop()
			return nil
		}
		msg, err := it.Next()
		if err != nil {
			<-sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			// A transient pull error (reconnect, leader change): keep going.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		d := &Delivery{msg: msg, Subject: msg.Subject(), Data: msg.Data()}
		if md, err := msg.Metadata(); err == nil {
			d.Delivered = md.NumDelivered
			d.Seq = md.Sequence.Stream
			d.Time = md.Timestamp
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx, d)
		}()
	}
}

// LastResult returns the last result rung stored for an incident, or nil
// when there is none. It lets a rung that sees a redelivered attempt tell
// whether it already answered.
func (s *Store) LastResult(ctx context.Context, incident, rung string) ([]byte, error) {
	_, data, err := s.LastMsg(ctx, bus.ResultSubject(incident, rung))
	return data, err
}

// orderedConsumer creates an ordered consumer of the stream holding
// filter, asking again while the cluster cannot answer (the meta or
// stream leader lost with its node, an election under way), for up to a
// minute.
func (s *Store) orderedConsumer(ctx context.Context, filter string, cfg jetstream.OrderedConsumerConfig) (c jetstream.Consumer, err error) {
	ctx, cancel := withDefaultTimeout(ctx, time.Minute)
	defer cancel()
	name := s.streamName(filter)
	_, err = untilStored(ctx, func(ctx context.Context) (err error) {
		c, err = s.js.OrderedConsumer(ctx, name, cfg)
		return err
	})
	return c, err
}

// Scan delivers every stored message on filter (of stream RAZAR_RESULTS
// for razar.result.*, else of stream RAZAR), oldest first (from since,
// when it is not zero), to fn, then returns; with follow it keeps delivering
// new ones until ctx ends. fn returning an error stops the scan with it.
func (s *Store) Scan(ctx context.Context, filter string, since time.Time, follow bool, fn func(seq uint64, subject string, data []byte) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	c, err := s.orderedConsumer(ctx, filter, cfg)
	if err != nil {
		return fmt.Errorf("scan %s: %w", filter, err)
	}
	if !follow {
		return scanStored(c, filter, fn)
	}
	return scanFollow(ctx, c, filter, fn)
}

// scanStored hands fn the messages stored now, in batches, and returns at
// the last one (or when a batch comes back empty).
func scanStored(c jetstream.Consumer, filter string, fn func(seq uint64, subject string, data []byte) error) error {
	for {
		batch, err := c.Fetch(256, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return fmt.Errorf("scan %s: %w", filter, err)
		}
		n := 0
		last := false
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			if err := fn(md.Sequence.Stream, msg.Subject(), msg.Data()); err != nil {
				return err
			}
			last = md.NumPending == 0
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("scan %s: %w", filter, err)
		}
		if n == 0 || last {
			return nil
		}
	}
}

// scanFollow hands fn every message, stored and new, until ctx ends or fn
// fails.
func scanFollow(ctx context.Context, c jetstream.Consumer, filter string, fn func(seq uint64, subject string, data []byte) error) error {
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("scan %s: %w", filter, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("scan %s: %w", filter, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		if err := fn(md.Sequence.Stream, msg.Subject(), msg.Data()); err != nil {
			return err
		}
	}
}

// Drained reports whether a durable consumer has delivered and had acked
// every message stored for it so far.
func (s *Store) Drained(ctx context.Context, durable string) (bool, error) {
	c, err := s.stream.Consumer(ctx, durable)
	if err != nil {
		return false, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// Follow delivers every message stored on filter from now on to fn, in
// stream order, until the returned stop is called. Its position is taken
// when Follow returns, so nothing stored after that is missed. It is Tail
// from the stream's end: the reader holds its position, no server-side
// consumer does, so the loss of the node that leads the stream (or would
// have held an ordered consumer) costs an election's wait, never a
// message: the orchestrator routes every rung's answer through it. fn
// runs on one goroutine; keep it short.
func (s *Store) Follow(ctx context.Context, filter string, fn func(seq uint64, subject string, data []byte)) (stop func(), err error) {
	var last uint64
	_, err = untilStored(ctx, func(ctx context.Context) (err error) {
		last, err = s.lastSeqOf(ctx, filter)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", filter, err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Tail(ctx, filter, last+1, func(m *StoredMsg) error {
			fn(m.Seq, m.Subject, m.Data)
			return nil
		}, nil)
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }, nil
}

// LastMsg returns the sequence and data of the last message stored on
// subject (a direct get), or 0 and nil when there is none.
func (s *Store) LastMsg(ctx context.Context, subject string) (uint64, []byte, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := s.streamFor(subject).GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return m.Sequence, m.Data, nil
}

// ConsumerNames lists the consumers of stream RAZAR, for tests and tools
// that check nothing is left behind.
func (s *Store) ConsumerNames(ctx context.Context) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		l := s.stream.ConsumerNames(ctx)
		for n := range l.Name() {
			if !yield(n) {
				return
			}
		}
	}
}

// ReleaseUnsettled hands back, for delivery now, every attempt consumer
// agent_<rung> delivered that nobody settled: a RAZAR restarting after its
// in-process rungs died with it calls it before it starts them again, so
// the attempt the dead process was working on runs at once instead of
// after the consumer's AckWait (finding 19 of issue 20: 30 s lost). It
// naks each unsettled delivery by its stream sequence; a nak of one that
// is not pending is ignored by the server. Only the owner of every reader
// of the consumer may call it: an attempt a live `razar agent` process is
// working on would be delivered twice. It returns how many deliveries it
// handed back.
func (s *Store) ReleaseUnsettled(ctx context.Context, rung string) (int, error) {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	name := bus.ConsumerName(rung)
	c, err := s.stream.Consumer(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	if info.NumAckPending == 0 {
		return 0, nil
	}
	n := 0
	for seq := info.AckFloor.Stream + 1; seq <= info.Delivered.Stream; seq++ {
		m, err := s.Next(ctx, bus.EscalateSubject(rung), seq)
		if err != nil {
			return n, err
		}
		if m == nil || m.Seq > info.Delivered.Stream {
			break
		}
		seq = m.Seq
		// The server checks the stream sequence against its pending list
		// and the consumer sequence only for range: the last delivered is
		// always in it.
		ack := fmt.Sprintf("$JS.ACK.%s.%s.1.%d.%d.%d.0", info.Stream, name, m.Seq, info.Delivered.Consumer, time.Now().UnixNano())
		if err := s.nc.Publish(ack, []byte("-NAK")); err != nil {
			return n, fmt.Errorf("hand back attempt %d of %s: %w", m.Seq, name, err)
		}
		n++
	}
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return n, fmt.Errorf("hand back the attempts of %s: %w", name, err)
	}
	return n, nil
}
