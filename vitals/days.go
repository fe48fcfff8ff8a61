package vitals

import (
	"errors"
	"fmt"
	"time"
)

// MaxDaysSpan bounds a DaysQuery: a remote-monitoring report looks back
// over a billing period and an episode's first periods, never years.
const MaxDaysSpan = 400 * 24 * time.Hour

// ErrBadDaysQuery: a DaysQuery is empty, reversed or too long.
var ErrBadDaysQuery = errors.New("days query: From < To, at most 400 days")

// DaysQuery asks on which calendar days patients have readings, and how
// many: the count of a store, never its values (remote-monitoring billing
// counts days with data).
type DaysQuery struct {
	Patients []string
	From, To time.Time // [From, To)
	// Location is where the days are calendar days (nil: UTC).
	Location *time.Location
}

// Day is a calendar day on which a patient has readings.
type Day struct {
	Date  string `json:"date"`  // YYYY-MM-DD in the query's Location
	Count int64  `json:"count"` // readings of every type that day
}

// Validate checks the query's bounds.
func (q DaysQuery) Validate() error {
	if !q.From.Before(q.To) || q.To.Sub(q.From) > MaxDaysSpan {
		return ErrBadDaysQuery
	}
	return nil
}

// Span is a part of a DaysQuery's range in which the Location's offset
// from UTC is constant, so that a reading's day is
// floor((unix seconds + Offset) / 86400).
type Span struct {
	From, To time.Time
	Offset   int64 // seconds east of UTC
}

// Spans cuts the query's range where the Location's offset changes
// (daylight saving time), so that stores can group by day with integer
// arithmetic.
func (q DaysQuery) Spans() []Span {
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	var out []Span
	for from := q.From; from.Before(q.To); {
		lt := from.In(loc)
		_, off := lt.Zone()
		_, end := lt.ZoneBounds()
		to := q.To
		if !end.IsZero() && end.Before(to) {
			to = end
		}
		out = append(out, Span{From: from, To: to, Offset: int64(off)})
		from = to
	}
	return out
}

// DayOf names the day numbered d (days since the epoch, in the span's
// local time).
func DayOf(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }

// MergeDays adds a span's counts to out, keeping each patient's days in
// order (spans arrive in time order and share at most their edge day).
func MergeDays(out map[string][]Day, patient string, day string, n int64) {
	ds := out[patient]
	if k := len(ds); k > 0 && ds[k-1].Date == day {
		ds[k-1].Count += n
		return
	}
	out[patient] = append(ds, Day{Date: day, Count: n})
}

// String describes the query for errors, without patient ids.
func (q DaysQuery) String() string {
	return fmt.Sprintf("days of %d patients in [%s, %s)", len(q.Patients), q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
}
