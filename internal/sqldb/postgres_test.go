package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

func TestRebindNumbersPlaceholdersOutsideQuotesAndComments(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`SELECT '?', "a?b", ? -- why?
			FROM t WHERE x = ?`, `SELECT '?', "a?b", $1 -- why?
			FROM t WHERE x = $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT 1`, `SELECT 1`},
	} {
		require.Equal(t, tc.want, sqldb.Rebind(tc.in))
	}
}

func TestAPasswordInTheDSNIsRefused(t *testing.T) {
	_, err := sqldb.ParsePostgres(sqldb.Postgres{DSN: "postgres://vw:secret@db.example:5432/records"})
	require.ErrorIs(t, err, sqldb.ErrPasswordInDSN)
	_, err = sqldb.ParsePostgres(sqldb.Postgres{DSN: "host=db user=vw password=secret dbname=records"})
	require.ErrorIs(t, err, sqldb.ErrPasswordInDSN)
	_, err = sqldb.ParsePostgres(sqldb.Postgres{DSN: "postgres://vw:@@::bad"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "bad", "the DSN is not echoed")
	cfg, err := sqldb.ParsePostgres(sqldb.Postgres{DSN: "postgres://vw@db.example/records", Password: "from-file"})
	require.NoError(t, err)
	require.Equal(t, "from-file", cfg.Password)
}

type column struct{ table, name, kind string }

// TestSchemasAgree holds the two schema histories together: each table
// and column of the SQLite records database exists on PostgreSQL with
// the same kind of type and the same nullability.
func TestSchemasAgree(t *testing.T) {
	ctx := context.Background()
	lite := openRecords(t, filepath.Join(t.TempDir(), "records.db"))
	pg := testenv.OpenRecordsAt(t, sqldb.Records{Kind: "postgres", Postgres: testenv.PostgresDB(t)})

	var want []column
	tables, err := sqldb.Strings(ctx, lite, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	require.NoError(t, err)
	for _, tb := range tables {
		rows, err := lite.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, tb)
		require.NoError(t, err)
		for rows.Next() {
			var name, typ string
			var notNull, pk int
			require.NoError(t, rows.Scan(&name, &typ, &notNull, &pk))
			want = append(want, column{tb, name, kind(typ) + nullable(notNull == 1 || pk > 0)})
		}
		require.NoError(t, rows.Close())
	}
	var got []column
	rows, err := pg.QueryContext(ctx, `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = current_schema()`)
	require.NoError(t, err)
	for rows.Next() {
		var c column
		var typ, null string
		require.NoError(t, rows.Scan(&c.table, &c.name, &typ, &null))
		c.kind = kind(typ) + nullable(null == "NO")
		got = append(got, c)
	}
	require.NoError(t, rows.Close())
	order := func(cs []column) {
		sort.Slice(cs, func(i, j int) bool { return cs[i].table+"."+cs[i].name < cs[j].table+"."+cs[j].name })
	}
	order(want)
	order(got)
	require.Equal(t, want, got)
}

func kind(sqlType string) string {
	switch t := strings.ToLower(sqlType); {
	case t == "integer" || t == "bigint":
		return "integer"
	case t == "real" || t == "double precision":
		return "real"
	case t == "blob" || t == "bytea":
		return "bytes"
	case t == "text":
		return "text"
	default:
		return "other:" + t
	}
}

func nullable(notNull bool) string {
	if notNull {
		return " not null"
	}
	return " null"
}

// TestPostgresTransactionsDoNotInterleave is the property the records
// stores were written for on SQLite (a transaction begins with the write
// lock): a transaction that reads a value and writes the next one is
// never interleaved with another, also from another connection pool (as
// another node would be).
func TestPostgresTransactionsDoNotInterleave(t *testing.T) {
	ctx := context.Background()
	dbn := testenv.PostgresDB(t)
	a := testenv.OpenRecordsAt(t, sqldb.Records{Kind: "postgres", Postgres: dbn})
	b := testenv.OpenRecordsAt(t, sqldb.Records{Kind: "postgres", Postgres: dbn})
	require.True(t, sqldb.IsPostgres(a))
	_, err := a.ExecContext(ctx, `CREATE TABLE counter (n BIGINT NOT NULL)`)
	require.NoError(t, err)
	_, err = a.ExecContext(ctx, `INSERT INTO counter (n) VALUES (?)`, 0)
	require.NoError(t, err)

	const each = 40
	var wg sync.WaitGroup
	errs := make(chan error, 8*each)
	for w := range 8 {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- increment(ctx, db)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, a.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n))
	require.Equal(t, 8*each, n, "no increment lost")
}

func increment(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counter SET n = ?`, n+1); err != nil {
		return err
	}
	return tx.Commit()
}

func TestPostgresBooleansAreStoredAsIntegers(t *testing.T) {
	ctx := context.Background()
	db := testenv.OpenRecordsAt(t, sqldb.Records{Kind: "postgres", Postgres: testenv.PostgresDB(t)})
	_, err := db.ExecContext(ctx, `INSERT INTO users (username, subject, role, hash, updated_at, disabled) VALUES (?,?,?,?,?,?)`,
		"u", "s", "admin", "h", 1, true)
	require.NoError(t, err)
	var disabled bool
	var raw int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT disabled, disabled FROM users WHERE username = ?`, "u").Scan(&disabled, &raw))
	require.True(t, disabled)
	require.Equal(t, 1, raw)
}

func TestAWrongPasswordIsRefusedWithoutBeingRepeated(t *testing.T) {
	p := testenv.PostgresDB(t)
	p.Password = "not-the-password-4711"
	_, err := sqldb.ConnectPostgres(context.Background(), p)
	require.Error(t, err)
	require.Contains(t, err.Error(), "password authentication failed")
	require.NotContains(t, err.Error(), "4711")
}
