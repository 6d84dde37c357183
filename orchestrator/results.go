package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/razar/razar"
	"github.com/razar/razar/bus"
	"github.com/razar/razar/jetstream"
)

// results routes every rung's answers to the attempt waiting for them,
// through one ordered consumer on razar.result.> for the whole
// orchestrator. A wait costs no consumer, so thousands of attempts leave
// nothing behind on the server.
type results struct {
	log     zerolog.Logger
	mu      sync.Mutex
	waiters map[string]*resultWait // incident -> its pending attempt
}

// resultWait is one attempt's wait: the subject its answer must be on, and
// what arrives there.
type resultWait struct {
	subject string
	ch      chan resultMsg
	missed  chan struct{} // closed when ch was full: look in the stream
	once    sync.Once
}

type resultMsg struct {
	seq  uint64
	data []byte
}

func newResults(log zerolog.Logger) *results {
	return &results{log: log, waiters: map[string]*resultWait{}}
}

// deliver hands one stored answer to the attempt of its incident. Answers
// on another rung's subject than the pending one, and answers nobody waits
// for, are logged and dropped here.
func (r *results) deliver(seq uint64, subject string, data []byte) {
	kind, toks, ok := bus.ParseSubject(subject)
	if !ok || kind != "result" || len(toks) != 2 {
		return
	}
	r.mu.Lock()
	w := r.waiters[toks[0]]
	r.mu.Unlock()
	switch {
	case w == nil:
		r.log.Debug().Str("subject", subject).Uint64("seq", seq).Msg("an answer no attempt waits for (late, or for an incident that ended)")
		return
	case w.subject != subject:
		r.log.Warn().Str("incident", toks[0]).Str("subject", subject).Uint64("seq", seq).
			Str("why", "not on the subject of the rung that holds the attempt ("+w.subject+")").Msg("ignored an answer")
		return
	}
	select {
	case w.ch <- resultMsg{seq: seq, data: data}:
	default:
		w.once.Do(func() { close(w.missed) })
	}
}

// wait registers the pending attempt of incident, answered on subject.
func (r *results) wait(incident, subject string) *resultWait {
	w := &resultWait{subject: subject, ch: make(chan resultMsg, 16), missed: make(chan struct{})}
	r.mu.Lock()
	r.waiters[incident] = w
	r.mu.Unlock()
	return w
}

func (r *results) done(incident string, w *resultWait) {
	r.mu.Lock()
	if r.waiters[incident] == w {
		delete(r.waiters, incident)
	}
	r.mu.Unlock()
}

// waitResult waits, for at most remaining (timed on the monotonic clock,
// so a step of the wall clock does not move it), for the answer to the
// pending attempt. Only an answer counts that is on the pending rung's own
// subject, razar.result.<incident>.<rung>, was stored after the attempt's
// escalation esc (a sequence of stream RAZAR_RESULTS past
// esc.ResultsAfter, its last before the escalation), and names this incident,
// attempt and rung. Anything else on the incident's results is logged with
// its subject, sequence and why, and ignored; answers to earlier attempts
// at debug level, as they are routine after a timeout.
//
// The wait is registered before the stream is looked at, so an answer is
// either already stored (found by walking the subject from the escalation
// on, with direct gets) or routed to it as it arrives.
func (o *Orchestrator) waitResult(ctx context.Context, incident string, attempt int, rung string, remaining time.Duration, esc jetstream.Handed) (*bus.Result, error) {
	want := bus.ResultSubject(incident, rung)
	w := o.results.wait(incident, want)
	defer o.results.done(incident, w)
	wctx, cancel := context.WithTimeout(ctx, remaining)
	defer cancel()
	j := &answers{o: o, incident: incident, attempt: attempt, rung: rung, want: want,
		escSeq: esc.Seq, after: esc.ResultsAfter, seen: esc.ResultsAfter}
	if esc.Seq == 0 {
		// The escalation was not stored: nothing can count. Report early
		// answers all the same, then wait out the deadline.
		j.seen = 0
	}
	if r := o.watch(wctx, j, w); r != nil {
		return r, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(wctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer before the attempt's deadline (%s left when the wait began)", remaining.Round(time.Millisecond))
	}
	return nil, fmt.Errorf("waiting for the answer: %w", wctx.Err())
}

// watch judges the stored answers, then each one routed to w, until one
// counts or wctx ends (nil).
func (o *Orchestrator) watch(wctx context.Context, j *answers, w *resultWait) *bus.Result {
	// The walk reads by direct gets, which on a cluster any replica
	// answers: one that lags may not hold an answer the router passed on
	// before this wait registered. Walking again each second finds it
	// once the replica has it, instead of at the attempt's deadline.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		if r, err := j.walk(wctx); r != nil {
			return r
		} else if err != nil && wctx.Err() == nil {
			o.log.Warn().Err(err).Str("incident", j.incident).Msg("could not read the stored answers; waiting for new ones")
		}
		select {
		case m := <-w.ch:
			if r := j.judge(m.seq, m.data); r != nil {
				return r
			}
		case <-w.missed:
			// Too many answers at once: the walk above reads them all.
			w = o.rewait(j.incident, j.want, w)
		case <-poll.C:
		case <-wctx.Done():
			return nil
		}
	}
}

// answers judges the answers to one pending attempt: attempt of incident
// by rung, on subject want. escSeq is the escalation's sequence (0: not
// stored) and after the results stream's last sequence before it.
type answers struct {
	o        *Orchestrator
	incident string
	attempt  int
	rung     string
	want     string
	escSeq   uint64
	after    uint64
	seen     uint64 // the highest sequence judged
}

// judge returns the answer stored at seq if it counts, and nil for one
// judged already, stored before the escalation, or not this attempt's.
func (j *answers) judge(seq uint64, data []byte) *bus.Result {
	if seq != 0 && seq <= j.seen && j.escSeq != 0 {
		return nil // judged already (walked, then routed), or stored before the escalation
	}
	j.seen = max(j.seen, seq)
	var r bus.Result
	if err := bus.Decode(data, &r); err != nil {
		return j.ignore(seq, "malformed: "+err.Error())
	}
	switch {
	case r.Attempt > 0 && r.Attempt < j.attempt:
		j.o.log.Debug().Str("incident", j.incident).Int("attempt", r.Attempt).Uint64("seq", seq).Msg("ignoring an answer to an earlier attempt")
		return nil
	case r.Incident != j.incident || r.Rung != j.rung:
		return j.ignore(seq, fmt.Sprintf("names incident %q and rung %q, not its own subject's", r.Incident, r.Rung))
	case r.Attempt != j.attempt:
		return j.ignore(seq, fmt.Sprintf("answers attempt %d; attempt %d is pending", r.Attempt, j.attempt))
	case j.escSeq == 0 || seq <= j.after:
		return j.ignore(seq, fmt.Sprintf("stored before the attempt's escalation (sequence %d of stream %s, which held %d before the escalation)", seq, bus.ResultsStreamName, j.after))
	}
	return &r
}

// ignore logs why the answer at seq does not count.
func (j *answers) ignore(seq uint64, why string) *bus.Result {
	j.o.log.Warn().Str("incident", j.incident).Int("attempt", j.attempt).Str("subject", j.want).Uint64("seq", seq).
		Str("why", why).Msg("ignored an answer")
	return nil
}

// walk judges what the stream holds on the subject after the last
// sequence judged.
func (j *answers) walk(ctx context.Context) (*bus.Result, error) {
	for from := j.seen + 1; ; {
		m, err := j.o.store.Next(ctx, j.want, from)
		if err != nil || m == nil {
			return nil, err
		}
		if r := j.judge(m.Seq, m.Data); r != nil {
			return r, nil
		}
		from = m.Seq + 1
	}
}

// rewait replaces a wait whose channel overflowed with a fresh one.
func (o *Orchestrator) rewait(incident, subject string, old *resultWait) *resultWait {
	o.results.done(incident, old)
	return o.results.wait(incident, subject)
}

// sweepUnasked returns the answer sweeper: every answer stored on
// razar.result.<incident>.<rung> whose incident does not exist (never
// opened, or ended and expired from the bucket) or whose rung is not on
// that incident's ladder is deleted from stream RAZAR_RESULTS as it comes.
// Such an answer answers nothing (waitResult would ignore it), and without
// the sweep a rung flooding made-up incidents would fill the stream, which
// then refuses every rung's answers. What stays is bounded per rung: at
// most the stream's per-subject limit of answers to each incident it may
// be asked about. An answer is kept whenever the incident cannot be read.
// It runs on the follower's goroutine, behind the answers it judges.
func (o *Orchestrator) sweepUnasked(ctx context.Context) func(seq uint64, subject string, data []byte) {
	warned := map[string]time.Time{} // rung -> last warning, one a minute
	swept := map[string]int{}        // rung -> answers deleted since
	return func(seq uint64, subject string, _ []byte) {
		kind, toks, ok := bus.ParseSubject(subject)
		if !ok || kind != "result" || len(toks) != 2 {
			return
		}
		incident, rung := toks[0], toks[1]
		rec, _, err := o.store.Incident(ctx, incident)
		switch {
		case errors.Is(err, razar.ErrNotFound):
		case err != nil:
			return // cannot tell: keep it
		case onLadder(rec, rung):
			return
		}
		if err := o.store.DeleteAt(ctx, subject, seq); err != nil {
			if ctx.Err() == nil {
				o.log.Warn().Err(err).Str("subject", subject).Uint64("seq", seq).Msg("could not delete an answer to a question never asked")
			}
			return
		}
		swept[rung]++
		if time.Since(warned[rung]) >= time.Minute {
			o.log.Warn().Str("agent", rung).Int("deleted", swept[rung]).Str("last_subject", subject).
				Msg("deleted answers to incidents that do not exist or never asked this rung (a rung flooding " + bus.ResultsStreamName + "?)")
			warned[rung], swept[rung] = time.Now(), 0
		}
	}
}

// onLadder says whether rung may be asked about rec: a rung of its ladder,
// or one it handed an attempt.
func onLadder(rec *bus.IncidentRecord, rung string) bool {
	if rung == rec.Policy.Takeover || slices.Contains(rec.Policy.Local, rung) || rec.Pending != nil && rec.Pending.Rung == rung {
		return true
	}
	return slices.ContainsFunc(rec.Attempts, func(a razar.Attempt) bool { return a.Rung == rung })
}
