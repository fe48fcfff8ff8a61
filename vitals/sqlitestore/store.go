// Package sqlitestore is the embedded vitals.Store: one SQLite file (pure-Go
// driver, WAL, fsync on commit), for single-machine use and the --dev mode.
//
// Schema: one table, readings(patient, type, t, device, value, value2,
// received), WITHOUT ROWID, primary key (patient, type, t, device). A
// reading's identity is (device, type, t), and its patient is a function of
// (device, t) (the binding at that time), so this key is unique exactly when
// the identity is: a reading delivered twice is stored once (INSERT OR
// IGNORE). The same B-tree serves the queries, which all select a patient
// and a type over a time range, so there is no second index to maintain.
//
// Writes are serialized in the store: SQLite has one writer at a time, and
// waiting on a mutex is cheaper than its busy-retry sleeps.
package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/vitals"
)

// rowsPerStatement is how many readings one INSERT carries; multi-row
// statements cut the per-row cost of the driver several times over.
const rowsPerStatement = 128

// Store is a vitals.Store on SQLite.
type Store struct {
	db      *sql.DB
	mu      sync.Mutex // one writer at a time
	insertN *sql.Stmt  // rowsPerStatement rows
}

var _ vitals.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS readings (
	patient  TEXT NOT NULL,
	type     TEXT NOT NULL,
	t        INTEGER NOT NULL,
	device   TEXT NOT NULL,
	value    REAL NOT NULL,
	value2   REAL NOT NULL DEFAULT 0,
	received INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (patient, type, t, device)
) WITHOUT ROWID;
`

// Open opens or creates the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqldb.Open(path)
	if err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create readings schema: %w", err)
	}
	stmt, err := db.PrepareContext(ctx, insertSQL(rowsPerStatement))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare readings insert: %w", err)
	}
	return &Store{db: db, insertN: stmt}, nil
}

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR IGNORE INTO readings (patient, type, t, device, value, value2, received) VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?)")
	}
	return b.String()
}

// Write implements vitals.Store. The batch is one transaction.
func (s *Store) Write(ctx context.Context, batch []vitals.Reading) error {
	if len(batch) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback()
	full := tx.StmtContext(ctx, s.insertN)
	args := make([]any, 0, 7*rowsPerStatement)
	for len(batch) > 0 {
		n := min(len(batch), rowsPerStatement)
		args = args[:0]
		for i := range batch[:n] {
			r := &batch[i]
			args = append(args, r.Patient, string(r.Type), r.Time.UnixNano(), r.Device, r.Value, r.Diastolic, r.ReceivedTime)
		}
		if n == rowsPerStatement {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertSQL(n), args...)
		}
		if err != nil {
			return fmt.Errorf("insert readings: %w", err)
		}
		batch = batch[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit readings: %w", err)
	}
	return nil
}

func scanReadings(rows *sql.Rows) ([]vitals.Reading, error) {
	defer rows.Close()
	var out []vitals.Reading
	for rows.Next() {
		var r vitals.Reading
		var typ string
		var t int64
		if err := rows.Scan(&r.Device, &typ, &t, &r.Patient, &r.Value, &r.Diastolic, &r.ReceivedTime); err != nil {
			return nil, err
		}
		r.Type = vitals.Type(typ)
		r.Time = time.Unix(0, t).UTC()
		if spec, ok := vitals.Lookup(r.Type); ok {
			r.Unit = spec.Canonical
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Range implements vitals.Store.
func (s *Store) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	order := ` ORDER BY t, device`
	if q.Newest {
		order = ` ORDER BY t DESC, device`
	}
	limit := -1 // SQLite: no limit
	if q.Limit > 0 {
		limit = q.Limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device, type, t, patient, value, value2, received
		FROM readings WHERE patient = ? AND type = ? AND t >= ? AND t < ?`+order+` LIMIT ?`,
		q.Patient, string(q.Type), q.From.UnixNano(), q.To.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	return scanReadings(rows)
}

// Aggregate implements vitals.Store.
func (s *Store) Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	every := q.Every.Nanoseconds()
	var rows *sql.Rows
	var err error
	const cols = `min(value), max(value), avg(value), count(*)`
	if every <= 0 {
		rows, err = s.db.QueryContext(ctx, `SELECT ?, `+cols+` FROM readings
			WHERE patient = ? AND type = ? AND t >= ? AND t < ? HAVING count(*) > 0`,
			q.From.UnixNano(), q.Patient, string(q.Type), q.From.UnixNano(), q.To.UnixNano())
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT (t / ?) * ? AS w, `+cols+` FROM readings
			WHERE patient = ? AND type = ? AND t >= ? AND t < ? GROUP BY w ORDER BY w`,
			every, every, q.Patient, string(q.Type), q.From.UnixNano(), q.To.UnixNano())
	}
	if err != nil {
		return nil, fmt.Errorf("aggregate readings: %w", err)
	}
	defer rows.Close()
	var out []vitals.Window
	for rows.Next() {
		var w vitals.Window
		var start int64
		if err := rows.Scan(&start, &w.Min, &w.Max, &w.Mean, &w.Count); err != nil {
			return nil, fmt.Errorf("aggregate readings: %w", err)
		}
		w.Start = time.Unix(0, start).UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

// daysChunk is how many patients one days query names: a report of a
// whole program (10,000 patients) is twenty grouped reads of the primary
// key per span, not one per patient, and a statement stays far below
// SQLite's limit of bound parameters.
const daysChunk = 500

// DaysWithData implements vitals.Store: per chunk of patients and span of
// constant UTC offset, one range read of the primary key (patient, type,
// t) for every type, grouped by patient and local day; the values are
// never read.
func (s *Store) DaysWithData(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	types := vitals.Types()
	typeIn := strings.TrimSuffix(strings.Repeat("?,", len(types)), ",")
	out := map[string][]vitals.Day{}
	spans := q.Spans()
	for lo := 0; lo < len(q.Patients); lo += daysChunk {
		chunk := q.Patients[lo:min(lo+daysChunk, len(q.Patients))]
		patientIn := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		stmt := `SELECT patient, (t / 1000000000 + ?) / 86400 AS d, count(*) FROM readings
			WHERE patient IN (` + patientIn + `) AND type IN (` + typeIn + `) AND t >= ? AND t < ?
			GROUP BY patient, d ORDER BY patient, d`
		args := make([]any, 0, 1+len(chunk)+len(types)+2)
		for _, sp := range spans {
			args = append(args[:0], sp.Offset)
			for _, p := range chunk {
				args = append(args, p)
			}
			for _, typ := range types {
				args = append(args, string(typ))
			}
			args = append(args, sp.From.UnixNano(), sp.To.UnixNano())
			if err := s.daysOf(ctx, stmt, args, out); err != nil {
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	return out, nil
}

// daysOf runs one grouped days statement and merges its rows into out.
func (s *Store) daysOf(ctx context.Context, stmt string, args []any, out map[string][]vitals.Day) error {
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var d, n int64
		if err := rows.Scan(&p, &d, &n); err != nil {
			return err
		}
		vitals.MergeDays(out, p, vitals.DayOf(d), n)
	}
	return rows.Err()
}

// Close implements vitals.Store.
func (s *Store) Close() error {
	s.insertN.Close()
	return s.db.Close()
}
