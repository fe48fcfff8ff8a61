package rpm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTooMany: a program-wide read found more rows than its bound; the
// caller asks for a shorter span.
var ErrTooMany = errors.New("too many records in the span: choose a shorter one")

// Enrolled is an episode as instants in the patient's time zone: from
// local midnight of its first day to local midnight after its last day
// (a zero To while it runs).
type Enrolled struct {
	Patient  string
	From, To time.Time
}

// EnrolledBetween lists the episodes that overlap [from, to), at most
// limit of them (ErrTooMany past it), with their dates turned into
// instants in each patient's time zone (roster; the clinic's when the
// patient has none), for measures that count the patients enrolled in
// monitoring.
func (p *Program) EnrolledBetween(ctx context.Context, roster Roster, from, to time.Time, limit int) ([]Enrolled, error) {
	// Dates with a day's margin on each side hold every zone's calendar
	// (UTC-12 to UTC+14); the exact overlap is decided below.
	lo := from.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	hi := to.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	rows, err := p.db.QueryContext(ctx, `SELECT patient, start_date, end_date FROM monitoring_episodes
		WHERE start_date <= ? AND (end_date = '' OR end_date >= ?) ORDER BY patient, start_date LIMIT ?`, hi, lo, limit+1)
	if err != nil {
		return nil, fmt.Errorf("enrolled between: %w", err)
	}
	type row struct{ patient, start, end string }
	var eps []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.patient, &r.start, &r.end); err != nil {
			rows.Close()
			return nil, fmt.Errorf("enrolled between: %w", err)
		}
		eps = append(eps, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enrolled between: %w", err)
	}
	if len(eps) > limit {
		return nil, fmt.Errorf("enrolled between: %w", ErrTooMany)
	}
	out := []Enrolled{}
	if len(eps) == 0 {
		return out, nil
	}
	ids, err := roster.BillingIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("enrolled between: %w", err)
	}
	clinic := p.cfg.Location()
	for _, e := range eps {
		loc := clinic
		if z := ids[e.patient][1]; z != "" {
			if l, err := time.LoadLocation(z); err == nil {
				loc = l
			}
		}
		start, err := time.ParseInLocation(time.DateOnly, e.start, loc)
		if err != nil {
			continue // not written by Enrol
		}
		en := Enrolled{Patient: e.patient, From: start}
		if e.end != "" {
			end, err := time.ParseInLocation(time.DateOnly, e.end, loc)
			if err != nil {
				continue
			}
			en.To = end.AddDate(0, 0, 1)
		}
		if en.From.Before(to) && (en.To.IsZero() || en.To.After(from)) {
			out = append(out, en)
		}
	}
	return out, nil
}

// CareTime is the counted time of one entry: neither voided nor
// superseded by a correction.
type CareTime struct {
	Patient     string
	Start       time.Time
	Seconds     int
	Interactive bool
}

// TimeBetween lists the counted time entries started in [from, to), at
// most limit of them (ErrTooMany past it): a correction counts instead of
// the entry it supersedes, a void one not at all.
func (p *Program) TimeBetween(ctx context.Context, from, to time.Time, limit int) ([]CareTime, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT t.patient, t.started_at, t.seconds, t.interactive FROM time_entries t
		WHERE t.started_at >= ? AND t.started_at < ? AND t.void = 0
		AND NOT EXISTS (SELECT 1 FROM time_entries c WHERE c.supersedes = t.id) LIMIT ?`, from.UnixMilli(), to.UnixMilli(), limit+1)
	if err != nil {
		return nil, fmt.Errorf("time between: %w", err)
	}
	defer rows.Close()
	out := []CareTime{}
	for rows.Next() {
		var c CareTime
		var start int64
		if err := rows.Scan(&c.Patient, &start, &c.Seconds, &c.Interactive); err != nil {
			return nil, fmt.Errorf("time between: %w", err)
		}
		if len(out) == limit {
			return nil, fmt.Errorf("time between: %w", ErrTooMany)
		}
		c.Start = time.UnixMilli(start).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
