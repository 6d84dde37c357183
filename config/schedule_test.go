package config

import (
	"testing"
	"time"
)

func TestScheduleActive(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	office := Schedule{Days: "mon-fri", From: "09:00", To: "18:00", TZ: "Europe/Berlin"}
	night := Schedule{Days: "fri", From: "22:00", To: "06:00"}
	weekend := Schedule{Days: "fri-mon", From: "00:00", To: "24:00"}
	// 2026-12-04 is a Friday.
	at := func(loc *time.Location, day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, loc) }
	tests := []struct {
		name string
		s    Schedule
		t    time.Time
		want bool
	}{
		{"office: Friday 09:00 Berlin opens it", office, at(berlin, 4, 9, 0), true},
		{"office: Friday 17:59 Berlin is inside", office, at(berlin, 4, 17, 59), true},
		{"office: Friday 18:00 Berlin closes it", office, at(berlin, 4, 18, 0), false},
		{"office: Friday 08:30 UTC is 09:30 in Berlin", office, at(time.UTC, 4, 8, 30), true},
		{"office: Friday 17:30 UTC is 18:30 in Berlin", office, at(time.UTC, 4, 17, 30), false},
		{"office: Saturday noon is off", office, at(berlin, 5, 12, 0), false},
		{"night: Friday 23:00 is inside", night, at(time.UTC, 4, 23, 0), true},
		{"night: Saturday 05:59 still belongs to Friday's window", night, at(time.UTC, 5, 5, 59), true},
		{"night: Saturday 06:00 ends it", night, at(time.UTC, 5, 6, 0), false},
		{"night: Friday 05:00 belongs to Thursday's, which it has not", night, at(time.UTC, 4, 5, 0), false},
		{"night: Saturday 23:00 is off", night, at(time.UTC, 5, 23, 0), false},
		{"fri-mon wraps: Sunday is inside", weekend, at(time.UTC, 6, 12, 0), true},
		{"fri-mon wraps: Monday 23:59 is inside", weekend, at(time.UTC, 7, 23, 59), true},
		{"fri-mon wraps: Wednesday is off", weekend, at(time.UTC, 2, 12, 0), false},
		{"no days: every day", Schedule{From: "09:00", To: "10:00"}, at(time.UTC, 6, 9, 30), true},
		{"an invalid schedule is never active", Schedule{From: "9", To: "10:00"}, at(time.UTC, 6, 9, 30), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Active(tt.t); got != tt.want {
				t.Fatalf("%s at %s: active %v, want %v", tt.s, tt.t, got, tt.want)
			}
		})
	}
}

func TestParseRosterHumanRung(t *testing.T) {
	r, err := ParseRoster("r.json", []byte(`{"agents": [
	  {"name": "crown", "backend": "builtin"},
	  {"name": "OnCall", "display": "on-call human", "backend": "human", "timeout": "5m", "ack_timeout": "30m",
	   "schedule": {"days": "mon-fri", "from": "09:00", "to": "18:00", "tz": "Europe/Berlin"}},
	  {"name": "k2", "backend": "builtin"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Agent("oncall")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Human() || e.AttemptTimeout() != 5*time.Minute || e.AckWindow() != 30*time.Minute || e.Schedule == nil || e.Schedule.String() != "mon-fri 09:00-18:00 Europe/Berlin" {
		t.Fatalf("human entry %+v", e)
	}
	if c, _ := r.Agent("crown"); c.Human() || c.AckWindow() != DefaultAckTimeout {
		t.Fatalf("crown %+v", c)
	}
}
