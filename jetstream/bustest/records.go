package bustest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Record is one message of a stream, as a test compares streams.
type Record struct {
	Seq     uint64
	Subject string
	Data    string
}

// StreamRecords reads every message of stream name in JetStream domain
// domain ("" for the server's own) from the server at url, as the user of
// creds ("" for none). It fails the test when the stream cannot be read.
func StreamRecords(t testing.TB, url, creds, domain, name string) []Record {
	t.Helper()
	recs, err := ReadStream(url, creds, domain, name)
	if err != nil {
		t.Fatalf("read stream %s (domain %q) at %s: %v", name, domain, url, err)
	}
	return recs
}

// ReadStream is StreamRecords returning its error, for a test that waits
// until the stream is there.
func ReadStream(url, creds, domain, name string) ([]Record, error) {
	opts := []nats.Option{nats.Timeout(2 * time.Second), nats.NoReconnect()}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if domain != "" {
		js, err = jetstream.NewWithDomain(nc, domain)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []Record
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Record{Seq: seq, Subject: m.Subject, Data: string(m.Data)})
	}
	return out, nil
}
