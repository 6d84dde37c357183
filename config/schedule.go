package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schedule is when a rung may take its turn: on Days, from From to To in
// the time zone TZ. Outside it the ladder skips the rung, with the
// schedule as the reason. A window whose To is not after its From spans
// midnight ("22:00" to "06:00"), and belongs to the day it starts on.
//
//	"schedule": {"days": "mon-fri", "from": "09:00", "to": "18:00", "tz": "Europe/Berlin"}
type Schedule struct {
	// Days are the week days the window opens on: "mon-fri", "sat,sun",
	// "mon-wed,fri"; empty is every day.
	Days string `json:"days,omitempty"`
	// From and To are the window, "HH:MM" in 24-hour time.
	From string `json:"from"`
	To   string `json:"to"`
	// TZ is an IANA time zone ("Europe/Berlin"); empty is UTC.
	TZ string `json:"tz,omitempty"`
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// compiled is a checked schedule.
type compiled struct {
	days     [7]bool
	from, to int // minutes after midnight
	loc      *time.Location
}

// Check reports what is wrong with the schedule as "<field>: <what>".
func (s Schedule) Check() error {
	_, err := s.compile()
	return err
}

func (s Schedule) compile() (*compiled, error) {
	c := &compiled{loc: time.UTC}
	var err error
	if c.from, err = clockMinutes(s.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if c.to, err = clockMinutes(s.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if c.from == c.to {
		return nil, errors.New(`to: equal to from, so the window would be empty (for every hour of the day leave "schedule" out)`)
	}
	if s.TZ != "" {
		if c.loc, err = time.LoadLocation(s.TZ); err != nil || s.TZ == "Local" {
			return nil, fmt.Errorf("tz: %q is not an IANA time zone (such as \"Europe/Berlin\" or \"UTC\")", s.TZ)
		}
	}
	if strings.TrimSpace(s.Days) == "" {
		for i := range c.days {
			c.days[i] = true
		}
		return c, nil
	}
	for part := range strings.SplitSeq(strings.ToLower(s.Days), ",") {
		part = strings.TrimSpace(part)
		a, b, isRange := strings.Cut(part, "-")
		first, ok1 := weekdays[strings.TrimSpace(a)]
		last, ok2 := first, ok1
		if isRange {
			last, ok2 = weekdays[strings.TrimSpace(b)]
		}
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("days: %q is not a day or a range of days: use mon tue wed thu fri sat sun, ranges and commas (\"mon-fri\", \"sat,sun\")", part)
		}
		for d := first; ; d = (d + 1) % 7 { // "fri-mon" wraps over the weekend
			c.days[d] = true
			if d == last {
				break
			}
		}
	}
	return c, nil
}

// clockMinutes reads "HH:MM" (00:00 to 23:59; "24:00" as the end of the day).
func clockMinutes(s string) (int, error) {
	bad := fmt.Errorf("%q is not a time of day: write HH:MM from 00:00 to 24:00, such as \"09:00\"", s)
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, bad
	}
	return h*60 + m, nil
}

// Active reports whether t is inside the schedule. An invalid schedule
// (which ParseRoster refuses) is never active.
func (s Schedule) Active(t time.Time) bool {
	c, err := s.compile()
	if err != nil {
		return false
	}
	t = t.In(c.loc)
	now := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if c.from < c.to {
		return c.days[day] && now >= c.from && now < c.to
	}
	// Over midnight: the evening part opens today, the morning part
	// belongs to yesterday's window.
	if now >= c.from {
		return c.days[day]
	}
	return now < c.to && c.days[(day+6)%7]
}

// String is the schedule as people read it: "mon-fri 09:00-18:00 Europe/Berlin".
func (s Schedule) String() string {
	days := s.Days
	if days == "" {
		days = "every day"
	}
	tz := s.TZ
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s %s-%s %s", days, s.From, s.To, tz)
}
