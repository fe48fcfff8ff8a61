package vitals

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// Reads across patients. The alert warm-up at start, the dashboard of a
// care team and the latest values read many patients at once: one query
// per chunk of patients, never one (or eight) per patient, and each
// bounded in time, so that their cost follows the patients asked and the
// range, not the years of history a store holds.

// MaxPatientsSpan bounds a PatientsQuery: the longest reader is the
// personal baselines' four weeks of 5-minute means at start.
const MaxPatientsSpan = 40 * 24 * time.Hour

// ErrBadPatientsQuery: a PatientsQuery is reversed, too long, or its
// windows are missing or too many.
var ErrBadPatientsQuery = errors.New("patients query: From < To, at most 40 days, windows of at least a second and at most 20,000 per series")

// PatientsQuery selects the readings of several patients (and types) in
// [From, To).
type PatientsQuery struct {
	Patients []string
	Types    []Type // nil: every type of the catalog
	From, To time.Time
}

// PatientsAggregateQuery cuts a PatientsQuery into windows of Every,
// aligned to the Unix epoch (as Aggregate).
type PatientsAggregateQuery struct {
	PatientsQuery
	Every time.Duration
}

// Validate checks the query's bounds.
func (q PatientsQuery) Validate() error {
	if !q.From.Before(q.To) || q.To.Sub(q.From) > MaxPatientsSpan {
		return ErrBadPatientsQuery
	}
	return nil
}

// Validate checks the query's bounds and windows.
func (q PatientsAggregateQuery) Validate() error {
	if err := q.PatientsQuery.Validate(); err != nil {
		return err
	}
	if q.Every < time.Second || q.To.Sub(q.From)/q.Every > 20000 {
		return ErrBadPatientsQuery
	}
	return nil
}

// TypesOr is the query's types, or every type of the catalog.
func (q PatientsQuery) TypesOr() []Type {
	if len(q.Types) > 0 {
		return q.Types
	}
	return Types()
}

// String describes the query for errors, without patient ids.
func (q PatientsQuery) String() string {
	return fmt.Sprintf("readings of %d patients in [%s, %s)", len(q.Patients), q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
}

// LatestSteps are the look-back ranges a store without a per-series
// "newest" index (InfluxDB) widens through, for the types a patient has
// none of in the ranges before: most vitals are in the first day and a
// half, a daily weight or a weekly cuff in the month, and only a vital
// not measured for over a year, or never, reaches the whole history. The
// first step reaches a day into the future (a device clock ahead).
var LatestSteps = []time.Duration{36 * time.Hour, 35 * 24 * time.Hour, 400 * 24 * time.Hour}

// LatestAhead is how far past now Latest looks (a device clock ahead).
const LatestAhead = 24 * time.Hour

// SortReadings orders one patient's readings as every store returns
// them: by time, then type, then device.
func SortReadings(rs []Reading) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := &rs[i], &rs[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Device < b.Device
	})
}

// NewestOfEach keeps, of readings of one patient, the newest of each
// type (two devices at the same time: the greater device id), in type
// order.
func NewestOfEach(rs []Reading) []Reading {
	best := map[Type]Reading{}
	for _, r := range rs {
		old, ok := best[r.Type]
		if !ok || r.Time.After(old.Time) || (r.Time.Equal(old.Time) && r.Device > old.Device) {
			best[r.Type] = r
		}
	}
	out := make([]Reading, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
