package jetstream

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/razar/razar"
	"github.com/razar/razar/bus"
)

// Retention of the RAZAR stream: the record of truth keeps 90 days by default.
const (
	DefaultMaxAge     = 90 * 24 * time.Hour
	DuplicateWindow   = 30 * time.Minute
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 10
)

// Default limits of stream RAZAR, stream RAZAR_RESULTS and bucket
// RAZAR_STATE (docs/PROTOCOL.md section 4), so no client, hostile or
// looping, can fill the disk, and no rung can evict a record.
const (
	// DefaultStreamMaxBytes bounds stream RAZAR (escalations and the audit
	// trail, written by the orchestrator alone); past it the oldest
	// messages are discarded.
	DefaultStreamMaxBytes = 1 << 30
	// DefaultMaxMsgSize is the largest message stream RAZAR stores, the
	// NATS default max payload.
	DefaultMaxMsgSize = 1 << 20
	// DefaultResultsMaxBytes bounds stream RAZAR_RESULTS (the rungs'
	// answers); past it new answers are refused, never an old one
	// discarded.
	DefaultResultsMaxBytes = 1 << 30
	// DefaultResultsMaxPerSubject is how many answers RAZAR_RESULTS keeps
	// on one razar.result.<incident>.<rung>: a rung that sends more to
	// one incident loses its own oldest there, and nothing else.
	DefaultResultsMaxPerSubject = 64
	// DefaultStateMaxBytes bounds bucket RAZAR_STATE (every revision it
	// keeps); past it, writes are refused.
	DefaultStateMaxBytes = 256 << 20
	// DefaultMaxValueSize is the largest value the bucket stores.
	DefaultMaxValueSize = 1 << 20
)

// Limits bound what the store keeps. A zero field means its default (or,
// for ResultsMaxPerSubject, what the existing stream has); a negative one,
// no limit.
type Limits struct {
	StreamMaxBytes   int64         // stream RAZAR, in bytes; discards the oldest past it
	StreamMaxMsgSize int32         // one message of stream RAZAR, in bytes
	StreamMaxAge     time.Duration // how long streams RAZAR and RAZAR_RESULTS keep a message
	// ResultsMaxBytes bounds stream RAZAR_RESULTS, in bytes; refuses new
	// answers past it. Its messages are at most bus.MaxResultBytes.
	ResultsMaxBytes int64
	// ResultsMaxPerSubject is the answers kept per incident and rung.
	ResultsMaxPerSubject int64
	StateMaxBytes        int64 // bucket RAZAR_STATE, in bytes; refuses writes past it
	StateMaxValueSize    int32 // one value of bucket RAZAR_STATE, in bytes
}

// DefaultLimits are the limits of docs/PROTOCOL.md section 4.
func DefaultLimits() Limits {
	return Limits{
		StreamMaxBytes:       DefaultStreamMaxBytes,
		StreamMaxMsgSize:     DefaultMaxMsgSize,
		StreamMaxAge:         DefaultMaxAge,
		ResultsMaxBytes:      DefaultResultsMaxBytes,
		ResultsMaxPerSubject: DefaultResultsMaxPerSubject,
		StateMaxBytes:        DefaultStateMaxBytes,
		StateMaxValueSize:    DefaultMaxValueSize,
	}
}

// orDefaults fills l's zero fields from DefaultLimits.
func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.StreamMaxBytes == 0 {
		l.StreamMaxBytes = d.StreamMaxBytes
	}
	if l.StreamMaxMsgSize == 0 {
		l.StreamMaxMsgSize = d.StreamMaxMsgSize
	}
	if l.StreamMaxAge == 0 {
		l.StreamMaxAge = d.StreamMaxAge
	}
	if l.ResultsMaxBytes == 0 {
		l.ResultsMaxBytes = d.ResultsMaxBytes
	}
	if l.ResultsMaxPerSubject == 0 {
		l.ResultsMaxPerSubject = d.ResultsMaxPerSubject
	}
	if l.StateMaxBytes == 0 {
		l.StateMaxBytes = d.StateMaxBytes
	}
	if l.StateMaxValueSize == 0 {
		l.StateMaxValueSize = d.StateMaxValueSize
	}
	return l
}

// Option changes how Open declares the store.
type Option func(*openOptions)

type openOptions struct {
	limits   *Limits
	replicas int
	log      func(format string, args ...any)
}

// WithLog has Open report what it changes in an existing store (an
// upgrade moving the rungs' answers to stream RAZAR_RESULTS) to log.
func WithLog(log func(format string, args ...any)) Option {
	return func(o *openOptions) { o.log = log }
}

// WithReplicas has Open give stream RAZAR, bucket RAZAR_STATE and the
// consumers it declares n replicas (--replicas, $RAZAR_REPLICAS), after
// checking that the bus has at least n JetStream servers.
func WithReplicas(n int) Option {
	return func(o *openOptions) { o.replicas = n }
}

// WithLimits has Open set the stream's and the bucket's limits to l (zero
// fields: the defaults). `razar boot` passes it; without it, Open keeps the
// limits an existing stream and bucket have, so a rung or a CLI command
// never undoes the operator's settings, and gives new ones the defaults.
func WithLimits(l Limits) Option {
	return func(o *openOptions) { o.limits = &l }
}

// Store is RAZAR's view of JetStream: streams RAZAR and RAZAR_RESULTS and
// the RAZAR_STATE bucket.
type Store struct {
	conn   *bus.Conn
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	// results holds razar.result.>: stream RAZAR_RESULTS, or stream RAZAR
	// itself when a bound store reads a home not upgraded yet.
	results jetstream.Stream
	kv      jetstream.KeyValue
	// declares is set on the orchestrator's store (Open): it declares
	// consumers; a bound store (Bind) only attaches to them.
	declares bool
	replicas int // of the consumers it declares
	// log, when set, reports waits a caller may wonder about.
	log func(format string, args ...any)
}

// SetLog has the store report waits (a consumer not declared yet) to log.
func (s *Store) SetLog(log func(format string, args ...any)) { s.log = log }

// kvStream is the stream behind bucket RAZAR_STATE.
const kvStream = "KV_" + bus.KVBucket

// Open declares (or updates) stream RAZAR and bucket RAZAR_STATE on nc's
// server and returns a Store. It is safe to call from every process: the
// declarations are idempotent.
func Open(ctx context.Context, conn *bus.Conn, opts ...Option) (*Store, error) {
	nc := conn.NATS()
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := withDefaultTimeout(ctx, 15*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	replicas := max(o.replicas, 1)
	if replicas > 1 {
		if err := checkCluster(nc, replicas); err != nil {
			return nil, err
		}
	}
	stream, results, limits, err := declareUntilUp(ctx, nc, js, o, replicas)
	if err != nil {
		return nil, err
	}
	kv, err := declareState(ctx, js, limits, replicas)
	if err != nil {
		return nil, err
	}
	return &Store{conn: conn, nc: nc, js: js, stream: stream, results: results, kv: kv, declares: true, replicas: replicas}, nil
}

// declareUntilUp declares the streams, retrying while JetStream starts up
// after a restart or a cluster election, and while a node still joining
// leaves the replicas unplaced for a moment.
func declareUntilUp(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, o openOptions, replicas int) (stream, results jetstream.Stream, limits Limits, err error) {
	var placing time.Time // since when JetStream has refused to place the replicas
	for {
		limits, err = o.effective(ctx, js)
		if err == nil {
			stream, results, err = declareStreams(ctx, js, limits, replicas, o.log)
		}
		if err == nil {
			return stream, results, limits, nil
		}
		if placementFailed(err) {
			// JetStream, not the client's view of the cluster, says
			// whether n replicas fit. A node still joining may be
			// missing for a moment: retry a little, then say so.
			if placing.IsZero() {
				placing = time.Now()
			} else if time.Since(placing) > placementGrace {
				return nil, nil, Limits{}, replicasError(nc, replicas, err)
			}
		}
		if ctx.Err() != nil {
			if placementFailed(err) {
				return nil, nil, Limits{}, replicasError(nc, replicas, err)
			}
			return nil, nil, Limits{}, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// declareState declares the KV bucket of component, incident and agent
// state; on a cluster it returns a handle that reads from the leader.
func declareState(ctx context.Context, js jetstream.JetStream, limits Limits, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       bus.KVBucket,
		Description:  "RAZAR component, incident and agent state",
		History:      10,
		Storage:      jetstream.FileStorage,
		MaxBytes:     limits.StateMaxBytes,
		MaxValueSize: limits.StateMaxValueSize,
		Replicas:     replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("declare KV bucket %s: %w", bus.KVBucket, err)
	}
	if replicas > 1 {
		if kv, err = leaderReads(ctx, js); err != nil {
			return nil, err
		}
	}
	return kv, nil
}

// leaderReads turns direct gets off for the bucket of a replicated store
// and binds it again. A direct get is answered by any replica, and one
// that lags does not yet hold what was just written: an incident created
// a moment ago read back as not found, a healed one as still open. Read
// by its leader, the bucket returns what was last written.
func leaderReads(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	name := "KV_" + bus.KVBucket
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bus.KVBucket, err)
	}
	if cfg := st.CachedInfo().Config; cfg.AllowDirect {
		cfg.AllowDirect = false
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("bucket %s: read it by its leader: %w", bus.KVBucket, err)
		}
	}
	kv, err := js.KeyValue(ctx, bus.KVBucket)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bus.KVBucket, err)
	}
	return kv, nil
}

// checkCluster says, before anything is declared, when the bus is a
// single server (the embedded one, or a lone nats-server): it holds one
// replica. Whether a cluster has enough servers, JetStream itself answers
// when the stream is declared (placementFailed).
func checkCluster(nc *nats.Conn, n int) error {
	if name := nc.ConnectedClusterName(); name == "" {
		return fmt.Errorf("--replicas %d: the bus at %s is a single server, not a cluster (fix: --replicas 1, or --nats URL of a NATS cluster of at least %d JetStream servers)", n, bus.RedactURL(nc.ConnectedUrl()), n)
	}
	return nil
}

// placementGrace is how long Open retries a stream JetStream cannot place
// (a node restarting) before it reports the cluster too small.
const placementGrace = 3 * time.Second

// placementFailed says whether err is JetStream refusing to place a
// stream's replicas: fewer servers (or fewer with room) than replicas.
func placementFailed(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jsErrNoPeers, jsErrInsufficientResources:
		return true
	}
	return false
}

// JetStream API error codes of a stream that cannot be placed
// (nats-server's errors.json: JSClusterNoPeersErrF, JSInsufficientResourcesErr).
const (
	jsErrNoPeers               jetstream.ErrorCode = 10005
	jsErrInsufficientResources jetstream.ErrorCode = 10023
)

// replicasError is the error of an Open whose replicas JetStream cannot
// place: it names the cluster, what the client sees of it, and the fix.
func replicasError(nc *nats.Conn, n int, err error) error {
	seen := len(nc.Servers())
	return fmt.Errorf("--replicas %d: cluster %s cannot place %d replicas of stream %s (JetStream: %w); this client knows %d server(s) of it (fix: --replicas %d or fewer, or add JetStream servers to the cluster, or bring back the ones that are down)",
		n, nc.ConnectedClusterName(), n, bus.StreamName, err, seen, min(seen, n-1))
}

// ErrNotDeclared is wrapped by Bind's error when RAZAR has not declared
// the stream yet (it is not running, or never ran against this bus).
var ErrNotDeclared = errors.New("stream RAZAR does not exist yet")

// Bind attaches to the stream and bucket the orchestrator declared, and
// declares nothing: every identity but the orchestrator's does this (the
// CLI, an operator's tool). It waits while the stream is missing, until
// ctx ends.
func Bind(ctx context.Context, conn *bus.Conn) (*Store, error) { return bind(ctx, conn, true) }

// BindStream is Bind without the bucket, for a rung: its identity may not
// read RAZAR_STATE, and the store's state methods fail saying so.
func BindStream(ctx context.Context, conn *bus.Conn) (*Store, error) { return bind(ctx, conn, false) }

func bind(ctx context.Context, conn *bus.Conn, withBucket bool) (*Store, error) {
	nc := conn.NATS()
	ctx, cancel := withDefaultTimeout(ctx, 15*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	for {
		// Each ask bounded: one sent while the stream has no leader (its
		// node killed, an election under way) is never answered.
		var stream jetstream.Stream
		_, err := untilStored(ctx, func(ctx context.Context) (err error) {
			stream, err = js.Stream(ctx, bus.StreamName)
			return err
		})
		var results jetstream.Stream
		if err == nil {
			results, err = bindResults(ctx, js, stream)
		}
		if err == nil {
			s := &Store{conn: conn, nc: nc, js: js, stream: stream, results: results}
			if withBucket {
				_, err = untilStored(ctx, func(ctx context.Context) (err error) {
					s.kv, err = js.KeyValue(ctx, bus.KVBucket)
					return err
				})
				if err != nil {
					return nil, fmt.Errorf("bind bucket %s: %w", bus.KVBucket, err)
				}
			}
			return s, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = ErrNotDeclared
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bind stream %s: %w (is `razar boot` running on this bus?)", bus.StreamName, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// errNoBucket is the error of a state method on a store bound without the bucket.
var errNoBucket = errors.New("this identity cannot read bucket " + bus.KVBucket)

func (s *Store) bucket() (jetstream.KeyValue, error) {
	if s.kv == nil {
		return nil, errNoBucket
	}
	return s.kv, nil
}

// effective is the limits Open declares: those given, else those the
// existing stream and bucket have, else the defaults.
func (o *openOptions) effective(ctx context.Context, js jetstream.JetStream) (Limits, error) {
	if o.limits != nil {
		l := *o.limits
		if l.ResultsMaxPerSubject == 0 {
			// Not a setting of its own: keep what the stream has.
			if st, err := js.Stream(ctx, bus.ResultsStreamName); err == nil && len(st.CachedInfo().Config.Sources) == 0 {
				l.ResultsMaxPerSubject = st.CachedInfo().Config.MaxMsgsPerSubject
			} else if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				return l, err
			}
		}
		return l.orDefaults(), nil
	}
	var l Limits
	if st, err := js.Stream(ctx, bus.StreamName); err == nil {
		c := st.CachedInfo().Config
		l.StreamMaxBytes, l.StreamMaxMsgSize, l.StreamMaxAge = c.MaxBytes, c.MaxMsgSize, c.MaxAge
		if c.MaxAge == 0 {
			l.StreamMaxAge = -1 // set to forever, not unset
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return l, err
	}
	if st, err := js.Stream(ctx, kvStream); err == nil {
		c := st.CachedInfo().Config
		l.StateMaxBytes, l.StateMaxValueSize = c.MaxBytes, c.MaxMsgSize
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return l, err
	}
	if st, err := js.Stream(ctx, bus.ResultsStreamName); err == nil && len(st.CachedInfo().Config.Sources) == 0 {
		c := st.CachedInfo().Config
		l.ResultsMaxBytes, l.ResultsMaxPerSubject = c.MaxBytes, c.MaxMsgsPerSubject
	} else if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return l, err
	}
	return l.orDefaults(), nil
}

// Conn is the store's NATS connection.
func (s *Store) Conn() *bus.Conn { return s.conn }

// Publish publishes p on subject through JetStream with msgID as Nats-Msg-Id,
// so a retried publish within DuplicateWindow is stored once. It waits for
// the stream's ack.
func (s *Store) Publish(ctx context.Context, subject, msgID string, p bus.Payload) error {
	_, err := s.PublishSeq(ctx, subject, msgID, p)
	return err
}

// PublishSeq is Publish, returning the message's stream sequence: for a
// duplicate within DuplicateWindow, the sequence of the message first stored.
func (s *Store) PublishSeq(ctx context.Context, subject, msgID string, p bus.Payload) (uint64, error) {
	data, err := bus.Encode(p)
	if err != nil {
		return 0, err
	}
	ack, err := s.publishMsg(ctx, &nats.Msg{Subject: subject, Data: data}, msgID)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

func (s *Store) publishMsg(ctx context.Context, msg *nats.Msg, msgID string) (*jetstream.PubAck, error) {
	subject := msg.Subject
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	// No responders (the stream has no leader: an election on a cluster)
	// means nothing was stored: it is retried until ctx ends.
	opts := []jetstream.PublishOpt{jetstream.WithRetryWait(electionRetry), jetstream.WithRetryAttempts(math.MaxInt32)}
	if msgID == "" {
		ack, err := s.js.PublishMsg(ctx, msg, opts...)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", subject, err)
		}
		return ack, nil
	}
	// With a message id a retry is stored once, so an ack lost with the
	// node that was to send it (the leader killed mid-request) is retried
	// too, each try bounded so the retries fit in ctx.
	opts = append(opts, jetstream.WithMsgID(msgID))
	for {
		actx, acancel := context.WithTimeout(ctx, ackWait)
		ack, err := s.js.PublishMsg(actx, msg, opts...)
		acancel()
		if err == nil {
			return ack, nil
		}
		if ctx.Err() != nil || !unanswered(err) {
			return nil, fmt.Errorf("publish %s: %w", subject, err)
		}
	}
}

// ResultsAfterHeader, on an escalation, is the last sequence of stream
// RAZAR_RESULTS before the escalation was stored: only an answer stored
// after it can answer the attempt.
const ResultsAfterHeader = "Razar-Results-After"

// Handed is an escalation stored on stream RAZAR: its sequence, and the
// last sequence of stream RAZAR_RESULTS before it was stored.
type Handed struct {
	Seq          uint64
	ResultsAfter uint64
}

// Escalate stores escalation p on subject with msgID, with after, what
// stream RAZAR_RESULTS held before the hand-over (ResultsLastSeq), so the
// answer can be told from answers stored earlier: the two streams number
// their messages apart. It returns where the escalation stands in stream
// RAZAR and the after it was stored with. An escalation stored already (a
// re-send after a crash, within DuplicateWindow) returns what was recorded
// with the one stored first.
func (s *Store) Escalate(ctx context.Context, subject, msgID string, p bus.Payload, after uint64) (Handed, error) {
	data, err := bus.Encode(p)
	if err != nil {
		return Handed{}, err
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(ResultsAfterHeader, strconv.FormatUint(after, 10))
	ack, err := s.publishMsg(ctx, msg, msgID)
	if err != nil {
		return Handed{}, err
	}
	h := Handed{Seq: ack.Sequence, ResultsAfter: after}
	if ack.Duplicate {
		h.ResultsAfter = 0 // an escalation stored before the header existed: judge by attempt alone
		ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
		defer cancel()
		m, err := s.stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			return Handed{}, fmt.Errorf("read back %s at %d: %w", subject, ack.Sequence, err)
		}
		if v, err := strconv.ParseUint(m.Header.Get(ResultsAfterHeader), 10, 64); err == nil {
			h.ResultsAfter = v
		}
	}
	return h, nil
}

// electionRetry is how often a write the stream had no leader for is
// tried again; ackWait bounds one try of an idempotent publish.
const (
	electionRetry = 250 * time.Millisecond
	ackWait       = 3 * time.Second
)

// timedOut says whether a request got no answer in time: it may have
// been done (a write stored) all the same.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// unanswered says whether err is a request the cluster did not answer,
// timed out or leaderless: worth asking again during an election.
func unanswered(err error) bool { return timedOut(err) || leaderless(err) }

// leaderless says whether err means no server answered for the stream
// (no leader yet, during an election), so the write was not stored.
func leaderless(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// untilStored runs a bucket write (or a request to a stream's leader)
// until it is answered, for at most 10 seconds when ctx has no deadline:
// during an election the stream has no leader (no responders: nothing was
// stored), or the request died with the leader or is never answered (a
// timeout: a write may have been stored). Each try is bounded by ackWait
// so the retries fit in ctx. retried says a try before the last timed
// out, so a compare-and-set that now loses may have lost to itself.
func untilStored(ctx context.Context, write func(context.Context) error) (retried bool, err error) {
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		tctx, tcancel := context.WithTimeout(ctx, ackWait)
		err = write(tctx)
		tcancel()
		if err == nil || ctx.Err() != nil || !unanswered(err) {
			return retried, err
		}
		late := timedOut(err)
		retried = retried || late
		if !late {
			select {
			case <-ctx.Done():
				return retried, err
			case <-time.After(electionRetry):
			}
		}
	}
}

// ownWrite is the revision of key when it holds data, so a compare-and-set
// that lost after a timed-out try knows the winner was its own first try.
func ownWrite(ctx context.Context, kv jetstream.KeyValue, key string, data []byte) (uint64, bool) {
	e, err := kv.Get(ctx, key)
	if err != nil || !bytes.Equal(e.Value(), data) {
		return 0, false
	}
	return e.Revision(), true
}

// Audit publishes one audit record on razar.audit.<component>.<event>.
// msgID, when set, makes the record idempotent.
func (s *Store) Audit(ctx context.Context, rec *bus.AuditRecord, msgID string) error {
	_, err := s.AuditSeq(ctx, rec, msgID)
	return err
}

// AuditSeq is Audit, returning the record's stream sequence. The record's
// free texts are scrubbed of the shapes of secrets first (razar.ScrubShapes),
// in place. A record
// sent without an id gets a random one (audit-once-<hex>): then a try
// whose ack was lost with a stream leader killed mid-request can be sent
// again and is still stored once, instead of being given up.
func (s *Store) AuditSeq(ctx context.Context, rec *bus.AuditRecord, msgID string) (uint64, error) {
	// The last seam before every reader of the record: whatever a caller
	// forgot to redact, the shapes of secrets do not reach the stream.
	rec.Scrub(razar.ScrubShapes)
	if rec.TimestampISO == "" {
		rec.Stamp(time.Now())
	}
	if msgID == "" {
		msgID = onceID()
	}
	return s.PublishSeq(ctx, rec.Subject(), msgID, rec)
}

// onceID is a message id no other record has.
func onceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return "audit-once-" + hex.EncodeToString(b[:])
}

// AuditAt reads the audit record stored at stream sequence seq.
func (s *Store) AuditAt(ctx context.Context, seq uint64) (*bus.AuditRecord, error) {
	data, err := s.MsgData(ctx, seq)
	if err != nil {
		return nil, err
	}
	var rec bus.AuditRecord
	if err := bus.Decode(data, &rec); err != nil {
		return nil, fmt.Errorf("audit record %d: %w", seq, err)
	}
	return &rec, nil
}

// ErrConflict is returned when a compare-and-set lost to another writer.
var ErrConflict = errors.New("state changed underneath (compare-and-set lost)")

// CreateIncident stores a new incident; it fails with ErrConflict if the id exists.
func (s *Store) CreateIncident(ctx context.Context, rec *bus.IncidentRecord) (uint64, error) {
	data, err := bus.Encode(rec)
	if err != nil {
		return 0, err
	}
	kv, err := s.bucket()
	if err != nil {
		return 0, err
	}
	var rev uint64
	retried, err := untilStored(ctx, func(ctx context.Context) (err error) {
		rev, err = kv.Create(ctx, bus.IncidentKey(rec.ID), data)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyExists) && retried {
		if own, ok := ownWrite(ctx, kv, bus.IncidentKey(rec.ID), data); ok {
			rev, err = own, nil
		}
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("incident %s: %w", rec.ID, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create incident %s: %w", rec.ID, err)
	}
	return rev, nil
}

// UpdateIncident stores rec if the incident is still at revision rev, and
// returns the new revision. A lost race returns ErrConflict.
func (s *Store) UpdateIncident(ctx context.Context, rec *bus.IncidentRecord, rev uint64) (uint64, error) {
	rec.Updated = time.Now().UTC()
	data, err := bus.Encode(rec)
	if err != nil {
		return 0, err
	}
	kv, err := s.bucket()
	if err != nil {
		return 0, err
	}
	var nrev uint64
	retried, err := untilStored(ctx, func(ctx context.Context) (err error) {
		nrev, err = kv.Update(ctx, bus.IncidentKey(rec.ID), data, rev)
		return err
	})
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			if own, ok := ownWrite(ctx, kv, bus.IncidentKey(rec.ID), data); ok && retried {
				return own, nil
			}
			return 0, fmt.Errorf("incident %s: %w", rec.ID, ErrConflict)
		}
		return 0, fmt.Errorf("update incident %s: %w", rec.ID, err)
	}
	return nrev, nil
}

// Incident loads one incident and its revision, or razar.ErrNotFound.
func (s *Store) Incident(ctx context.Context, id string) (*bus.IncidentRecord, uint64, error) {
	kv, err := s.bucket()
	if err != nil {
		return nil, 0, err
	}
	e, err := kv.Get(ctx, bus.IncidentKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("incident %s: %w", id, razar.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load incident %s: %w", id, err)
	}
	var rec bus.IncidentRecord
	if err := bus.Decode(e.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("incident %s: %w", id, err)
	}
	return &rec, e.Revision(), nil
}

// DeleteIncident removes an incident's key from the bucket, history and
// all (a purge): the incident's records stay on the stream.
func (s *Store) DeleteIncident(ctx context.Context, id string) error {
	kv, err := s.bucket()
	if err != nil {
		return err
	}
	if err := kv.Purge(ctx, bus.IncidentKey(id)); err != nil {
		return fmt.Errorf("purge incident %s: %w", id, err)
	}
	return nil
}

// Incidents lists every stored incident. A record that cannot be decoded is
// reported through bad and left out; it never stops the listing.
func (s *Store) Incidents(ctx context.Context, bad func(key string, err error)) ([]*bus.IncidentRecord, error) {
	kv, err := s.bucket()
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeysFiltered(ctx, bus.IncidentKeys)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	var out []*bus.IncidentRecord
	for _, k := range keys {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", k, err)
		}
		var rec bus.IncidentRecord
		if err := bus.Decode(e.Value(), &rec); err != nil {
			if bad != nil {
				bad(k, err)
			}
			continue
		}
		out = append(out, &rec)
	}
	return out, nil
}

// PutAgentStatus records a rung's readiness.
func (s *Store) PutAgentStatus(ctx context.Context, st *bus.AgentStatus) error {
	data, err := bus.Encode(st)
	if err != nil {
		return err
	}
	kv, err := s.bucket()
	if err != nil {
		return err
	}
	if _, err := untilStored(ctx, func(ctx context.Context) error { _, err := kv.Put(ctx, bus.AgentKey(st.Name), data); return err }); err != nil {
		return fmt.Errorf("store agent status %s: %w", st.Name, err)
	}
	return nil
}

// AgentStatus loads a rung's readiness, or razar.ErrNotFound when no process
// of that rung has reported.
func (s *Store) AgentStatus(ctx context.Context, name string) (*bus.AgentStatus, error) {
	kv, err := s.bucket()
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, bus.AgentKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("agent %s: %w", name, razar.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load agent status %s: %w", name, err)
	}
	var st bus.AgentStatus
	if err := bus.Decode(e.Value(), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// PutRaw stores an arbitrary JSON value under key in RAZAR_STATE.
func (s *Store) PutRaw(ctx context.Context, key string, data []byte) error {
	kv, err := s.bucket()
	if err != nil {
		return err
	}
	if _, err := untilStored(ctx, func(ctx context.Context) error { _, err := kv.Put(ctx, key, data); return err }); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
