package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrTargetNotEmpty is returned by CopyRecords when the PostgreSQL records
// database already holds records: a copy goes into an empty one only.
var ErrTargetNotEmpty = errors.New("the PostgreSQL records database is not empty: copy into a new, empty database")

// copyFirst are the tables other tables refer to; they are copied before
// the rest.
var copyFirst = map[string]bool{"devices": true, "care_teams": true, "alerts": true}

// copyBatch is how many rows one INSERT carries (13 columns at most:
// well under PostgreSQL's 65,535 parameters).
const copyBatch = 500

// CopyRecords copies every records table of the SQLite database from into
// the empty, migrated PostgreSQL database to, in one transaction, rows in
// their original order and with their ids, then moves each identity
// sequence past the highest id copied. It returns the rows copied per
// table.
func CopyRecords(ctx context.Context, from, to *sql.DB) (map[string]int64, error) {
	if IsPostgres(from) || !IsPostgres(to) {
		return nil, errors.New("copy records: from a SQLite database to a PostgreSQL one")
	}
	tables, err := Strings(ctx, from, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("copy records: list tables: %w", err)
	}
	sort.SliceStable(tables, func(i, j int) bool { return copyFirst[tables[i]] && !copyFirst[tables[j]] })
	for _, t := range tables {
		var any int
		err := to.QueryRowContext(ctx, `SELECT 1 FROM `+quoteIdent(t)+` LIMIT 1`).Scan(&any)
		if err == nil {
			return nil, fmt.Errorf("%w (table %s has rows)", ErrTargetNotEmpty, t)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("copy records: table %s on PostgreSQL: %w", t, err)
		}
	}
	tx, err := to.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("copy records: %w", err)
	}
	defer tx.Rollback()
	counts := map[string]int64{}
	for _, t := range tables {
		n, err := copyTable(ctx, from, tx, t)
		if err != nil {
			return nil, fmt.Errorf("copy records: table %s: %w", t, err)
		}
		counts[t] = n
	}
	idents, err := identityColumns(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("copy records: %w", err)
	}
	for t, col := range idents {
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), (SELECT max(`+quoteIdent(col)+`) FROM `+quoteIdent(t)+`))
			WHERE EXISTS (SELECT 1 FROM `+quoteIdent(t)+`)`, t, col); err != nil {
			return nil, fmt.Errorf("copy records: move the ids of %s on: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("copy records: %w", err)
	}
	return counts, nil
}

func copyTable(ctx context.Context, from *sql.DB, to *sql.Tx, table string) (int64, error) {
	cols, err := Strings(ctx, from, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return 0, err
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	list := strings.Join(quoted, ", ")
	// Rows in the order they were written (rowid), or, for a table
	// without one, in its primary key's order.
	order := "rowid"
	var withoutRowid int
	if err := from.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ? AND sql LIKE '%WITHOUT ROWID%'`, table).Scan(&withoutRowid); err != nil {
		return 0, err
	}
	if withoutRowid > 0 {
		pk, err := Strings(ctx, from, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
		if err != nil {
			return 0, err
		}
		for i, c := range pk {
			pk[i] = quoteIdent(c)
		}
		order = strings.Join(pk, ", ")
	}
	rows, err := from.QueryContext(ctx, `SELECT `+list+` FROM `+quoteIdent(table)+` ORDER BY `+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
		k := len(batch) / len(cols)
		q := `INSERT INTO ` + quoteIdent(table) + ` (` + list + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+",", k), ",")
		if _, err := to.ExecContext(ctx, q, batch...); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		batch = append(batch, vals...)
		n++
		if n%copyBatch == 0 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

func identityColumns(ctx context.Context, tx *sql.Tx) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		out[t] = c
	}
	return out, rows.Err()
}

// CountRecords counts the rows of each records table of db (SQLite or
// PostgreSQL), for comparing a copy with its source.
func CountRecords(ctx context.Context, db *sql.DB, tables []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// quoteIdent quotes a table or column name read from the schema (both
// engines accept double quotes).
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
