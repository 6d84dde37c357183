package bus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar"
)

func benchEscalation() *Escalation {
	var hist []razar.Attempt
	for i := 0; i < 10; i++ {
		hist = append(hist, razar.Attempt{Number: i + 1, Rung: "k2", Outcome: razar.OutcomeRejected,
			Summary: strings.Repeat("summary ", 50), Diff: strings.Repeat("+line\n", 500), Started: time.Now(), Finished: time.Now()})
	}
	return &Escalation{Incident: "inc-1", Component: "web", Error: "boom", Attempt: 11, Rung: "rstar", Pass: 3,
		Deadline: time.Now().Add(time.Minute), Context: hist}
}

// BenchmarkCodec measures our codec (version stamp, validation, field-named
// errors) against plain encoding/json on the same escalation: the baseline.
func BenchmarkCodec(b *testing.B) {
	esc := benchEscalation()
	data, _ := Encode(esc)
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := json.Marshal(esc)
			var back Escalation
			_ = json.Unmarshal(out, &back)
		}
	})
	b.Run("razar", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := Encode(esc)
			var back Escalation
			if err := Decode(out, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.SetBytes(int64(len(data)))
}

// BenchmarkClip measures Clip against slicing the string, the baseline.
func BenchmarkClip(b *testing.B) {
	s := strings.Repeat("é diff line\n", 50000)
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			_ = s[:MaxDiffBytes/2] + s[len(s)-MaxDiffBytes/2:]
		}
	})
	b.Run("razar", func(b *testing.B) {
		for b.Loop() {
			_ = Clip(s, MaxDiffBytes)
		}
	})
}
