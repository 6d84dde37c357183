package razar

import (
	"encoding/json"
	"testing"
	"time"
)

func TestHealthCheckKind(t *testing.T) {
	tests := []struct {
		input string
		kind  string
	}{
		{`["./probe"]`, "command"},
		{`{"command": ["./probe"]}`, "command"},
		{`{"http": "http://h/ready"}`, "http"},
		{`{"tcp": "h:1"}`, "tcp"},
	}
	for _, tt := range tests {
		var hc HealthCheck
		if err := json.Unmarshal([]byte(tt.input), &hc); err != nil {
			t.Errorf("%s: %v", tt.input, err)
			continue
		}
		if got := hc.Kind(); got != tt.kind {
			t.Errorf("%s: Kind() = %q, want %q", tt.input, got, tt.kind)
		}
	}
	if got := (HealthCheck{}).Kind(); got != "" {
		t.Errorf("zero HealthCheck: Kind() = %q, want empty", got)
	}
}

func TestDurationMarshalRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1500 * time.Millisecond, 90 * time.Second, 26 * time.Hour} {
		b, err := json.Marshal(Duration(d))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + d.String() + `"`; string(b) != want {
			t.Errorf("Marshal(%v) = %s, want %s", d, b, want)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != d {
			t.Errorf("round trip of %v: %v, %v", d, time.Duration(back), err)
		}
	}
}
