package vitals

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable marks a store error that says the store cannot be reached
// now (as opposed to refusing the data). Callers keep the data and retry.
var ErrUnavailable = errors.New("vitals store unavailable")

// Store keeps readings in a time series. Implementations are safe for
// concurrent use. Writes are idempotent on Reading.Key: writing a reading
// that is already stored leaves one copy.
type Store interface {
	// Write stores a batch durably before it returns nil.
	Write(ctx context.Context, batch []Reading) error
	// Range returns a patient's readings of a type with from <= Time < to,
	// oldest first (newest first with Newest), at most Limit of them when
	// Limit > 0.
	Range(ctx context.Context, q Query) ([]Reading, error)
	// Latest returns the newest reading of each type for a patient, in
	// type order.
	Latest(ctx context.Context, patient string) ([]Reading, error)
	// LatestOf is Latest for several patients in a few queries: each
	// patient with readings maps to their newest of each type.
	LatestOf(ctx context.Context, patients []string) (map[string][]Reading, error)
	// RangeOf returns the readings of q's patients and types in [From,
	// To), per patient with any, in SortReadings order.
	RangeOf(ctx context.Context, q PatientsQuery) (map[string][]Reading, error)
	// AggregateOf summarizes q's patients' readings of each type per
	// window (as Aggregate), per patient and type with any.
	AggregateOf(ctx context.Context, q PatientsAggregateQuery) (map[string]map[Type][]Window, error)
	// Aggregate summarizes a patient's readings of a type per window.
	Aggregate(ctx context.Context, q AggregateQuery) ([]Window, error)
	// DaysWithData returns, for each patient of q that has any, the
	// calendar days with at least one reading and how many, in date
	// order; it reads counts, never values.
	DaysWithData(ctx context.Context, q DaysQuery) (map[string][]Day, error)
	Close() error
}

// Query selects a patient's readings of one type in [From, To).
type Query struct {
	Patient  string
	Type     Type
	From, To time.Time
	// Limit bounds how many readings Range returns (0: all); readers of
	// long histories page with it instead of holding the whole range.
	Limit int
	// Newest orders Range newest first.
	Newest bool
}

// AggregateQuery is a Query cut into windows of Every, aligned to the Unix
// epoch. Every == 0 makes one window [From, To).
type AggregateQuery struct {
	Query
	Every time.Duration
}

// Window summarizes the readings of one window. For blood pressure the
// statistics are of the systolic value.
type Window struct {
	Start time.Time `json:"start"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Mean  float64   `json:"mean"`
	Count int64     `json:"count"`
}
