package sqlitestore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// manyChunk is how many patients one statement of the reads across
// patients names: far below SQLite's limit of bound parameters, and a
// care team of a few hundred is one statement.
const manyChunk = 500

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

// chunks calls f with the patients in chunks of manyChunk.
func chunks(patients []string, f func([]string) error) error {
	for lo := 0; lo < len(patients); lo += manyChunk {
		if err := f(patients[lo:min(lo+manyChunk, len(patients))]); err != nil {
			return err
		}
	}
	return nil
}

// Latest implements vitals.Store: one seek of the primary key per type.
func (s *Store) Latest(ctx context.Context, patient string) ([]vitals.Reading, error) {
	m, err := s.LatestOf(ctx, []string{patient})
	return m[patient], err
}

// LatestOf implements vitals.Store. Per chunk of patients one statement:
// for each (patient, type) the primary key (patient, type, t, device)
// answers the newest time with one seek from its end, and the rows at
// that time with another; no history is scanned.
func (s *Store) LatestOf(ctx context.Context, patients []string) (map[string][]vitals.Reading, error) {
	types := vitals.Types()
	typeRows := strings.TrimSuffix(strings.Repeat("(?),", len(types)), ",")
	out := map[string][]vitals.Reading{}
	err := chunks(patients, func(chunk []string) error {
		stmt := `WITH p(patient) AS (VALUES ` + strings.TrimSuffix(strings.Repeat("(?),", len(chunk)), ",") + `),
			ty(type) AS (VALUES ` + typeRows + `)
			SELECT r.device, r.type, r.t, r.patient, r.value, r.value2, r.received
			FROM p CROSS JOIN ty JOIN readings r ON r.patient = p.patient AND r.type = ty.type
			AND r.t = (SELECT m.t FROM readings m WHERE m.patient = p.patient AND m.type = ty.type ORDER BY m.t DESC LIMIT 1)`
		args := make([]any, 0, len(chunk)+len(types))
		for _, p := range chunk {
			args = append(args, p)
		}
		for _, t := range types {
			args = append(args, string(t))
		}
		rows, err := s.db.QueryContext(ctx, stmt, args...)
		if err != nil {
			return fmt.Errorf("query latest: %w", err)
		}
		rs, err := scanReadings(rows)
		if err != nil {
			return fmt.Errorf("query latest: %w", err)
		}
		by := map[string][]vitals.Reading{}
		for _, r := range rs {
			by[r.Patient] = append(by[r.Patient], r)
		}
		for p, rs := range by {
			out[p] = vitals.NewestOfEach(rs)
		}
		return nil
	})
	return out, err
}

// RangeOf implements vitals.Store: per chunk of patients, one range read
// of the primary key per (patient, type).
func (s *Store) RangeOf(ctx context.Context, q vitals.PatientsQuery) (map[string][]vitals.Reading, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	types := q.TypesOr()
	out := map[string][]vitals.Reading{}
	err := chunks(q.Patients, func(chunk []string) error {
		stmt := `SELECT device, type, t, patient, value, value2, received FROM readings
			WHERE patient IN (` + placeholders(len(chunk)) + `) AND type IN (` + placeholders(len(types)) + `) AND t >= ? AND t < ?`
		rows, err := s.db.QueryContext(ctx, stmt, manyArgs(chunk, types, q.From, q.To)...)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		rs, err := scanReadings(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		for _, r := range rs {
			out[r.Patient] = append(out[r.Patient], r)
		}
		return nil
	})
	for _, rs := range out {
		vitals.SortReadings(rs)
	}
	return out, err
}

func manyArgs(chunk []string, types []vitals.Type, from, to time.Time, lead ...any) []any {
	args := make([]any, 0, len(lead)+len(chunk)+len(types)+2)
	args = append(args, lead...)
	for _, p := range chunk {
		args = append(args, p)
	}
	for _, t := range types {
		args = append(args, string(t))
	}
	return append(args, from.UnixNano(), to.UnixNano())
}

// AggregateOf implements vitals.Store: per chunk of patients, one
// grouped read of the primary key.
func (s *Store) AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	types := q.TypesOr()
	every := q.Every.Nanoseconds()
	out := map[string]map[vitals.Type][]vitals.Window{}
	err := chunks(q.Patients, func(chunk []string) error {
		stmt := `SELECT patient, type, (t / ?) * ? AS w, min(value), max(value), avg(value), count(*) FROM readings
			WHERE patient IN (` + placeholders(len(chunk)) + `) AND type IN (` + placeholders(len(types)) + `) AND t >= ? AND t < ?
			GROUP BY patient, type, w ORDER BY patient, type, w`
		rows, err := s.db.QueryContext(ctx, stmt, manyArgs(chunk, types, q.From, q.To, every, every)...)
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", q.PatientsQuery, err)
		}
		defer rows.Close()
		for rows.Next() {
			var p, typ string
			var start int64
			var w vitals.Window
			if err := rows.Scan(&p, &typ, &start, &w.Min, &w.Max, &w.Mean, &w.Count); err != nil {
				return fmt.Errorf("aggregate %s: %w", q.PatientsQuery, err)
			}
			w.Start = time.Unix(0, start).UTC()
			if out[p] == nil {
				out[p] = map[vitals.Type][]vitals.Window{}
			}
			out[p][vitals.Type(typ)] = append(out[p][vitals.Type(typ)], w)
		}
		return rows.Err()
	})
	return out, err
}
