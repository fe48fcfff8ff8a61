package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The records stores are written once, in the SQL both engines accept
// (ON CONFLICT, RETURNING, ? placeholders). What differs is absorbed
// here, below database/sql, so that a store holds one *sql.DB whatever
// the engine:
//   - placeholders: ? becomes $1, $2, ... (outside quotes and comments);
//   - booleans: SQLite stores them as integers and so does Vitalwire's
//     PostgreSQL schema; a Go bool argument is sent as 0 or 1;
//   - transactions: SQLite's records database begins every transaction
//     with the write lock (_txlock=immediate), so a transaction that reads
//     then writes (the audit chain's last hash, an encounter's version, a
//     device's current binding) never interleaves with another. On
//     PostgreSQL every transaction begun through database/sql takes one
//     transaction-scoped advisory lock first, which gives the same order
//     across connections and across nodes sharing the database. Single
//     statements outside a transaction do not take it: each is atomic on
//     both engines.

// Postgres is a records database on PostgreSQL. The DSN names the server,
// database and user (a URL or key=value string); the password comes
// separately (from a file or an environment variable), never in the DSN.
type Postgres struct {
	DSN      string
	Password string
}

// ErrPasswordInDSN is returned when a DSN carries a password: it belongs
// in password_file or password_env, which config files and logs never show.
var ErrPasswordInDSN = errors.New("the PostgreSQL DSN carries a password: give it with records.password_file or records.password_env instead")

// writeLockKey is the advisory lock every records transaction takes on
// PostgreSQL (an arbitrary 64-bit number: "vitalwr" in ASCII).
const writeLockKey = 0x76_69_74_61_6c_77_72

//go:embed postgres/*.sql
var pgMigrations embed.FS

// ParsePostgres checks a DSN and returns pgx's configuration with the
// password set.
func ParsePostgres(p Postgres) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(p.DSN)
	if err != nil {
		// pgx's message may quote the DSN; say only what is wrong.
		return nil, errors.New("records.dsn: not a PostgreSQL connection string (postgres://user@host:port/db?sslmode=... or host=... user=... dbname=...)")
	}
	if cfg.Password != "" {
		return nil, ErrPasswordInDSN
	}
	cfg.Password = p.Password
	return cfg, nil
}

// OpenPostgres connects to the PostgreSQL records database and brings its
// schema up to date.
func OpenPostgres(ctx context.Context, p Postgres) (*sql.DB, error) {
	db, err := ConnectPostgres(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := migrateLocked(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ConnectPostgres connects without migrating.
func ConnectPostgres(ctx context.Context, p Postgres) (*sql.DB, error) {
	cfg, err := ParsePostgres(p)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to PostgreSQL %s:%d database %q as %q: %w", cfg.Host, cfg.Port, cfg.Database, cfg.User, err)
	}
	return db, nil
}

// migrateLocked runs the PostgreSQL schema history under the write lock, so
// that nodes starting together do not apply a migration twice.
func migrateLocked(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, int64(writeLockKey)+1); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, int64(writeLockKey)+1)
	return Migrate(ctx, db, pgMigrations, "postgres")
}

// IsPostgres reports whether db is a PostgreSQL records database opened by
// this package.
func IsPostgres(db *sql.DB) bool {
	_, ok := db.Driver().(pgDriver)
	return ok
}

type pgDriver struct{}

func (pgDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("sqldb: open PostgreSQL through OpenPostgres")
}

type pgConnector struct{ inner driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{cn.(*stdlib.Conn)}, nil
}

func (pgConnector) Driver() driver.Driver { return pgDriver{} }

// pgConn is pgx's database/sql connection with the dialect applied.
type pgConn struct{ *stdlib.Conn }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, Rebind(query))
	if err != nil {
		return nil, err
	}
	return pgStmt{st}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	r, err := c.Conn.ExecContext(ctx, Rebind(query), pgArgs(args))
	return r, pgError(err)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.Conn.QueryContext(ctx, Rebind(query), pgArgs(args))
	if err != nil {
		return nil, pgError(err)
	}
	return pgRows{r.(*stdlib.Rows)}, nil
}

// pgRows reports a statement's error (an INSERT ... RETURNING refused by
// a constraint surfaces when its row is read) as ExecContext does.
type pgRows struct{ *stdlib.Rows }

func (r pgRows) Next(dest []driver.Value) error { return pgError(r.Rows.Next(dest)) }

// UniqueError is a unique constraint refusing a write on PostgreSQL. Its
// text begins as SQLite's does ("UNIQUE constraint failed"), which the
// stores test for: the packages that may not import this one (auth)
// match the text.
type UniqueError struct{ Err *pgconn.PgError }

func (e *UniqueError) Error() string {
	return "UNIQUE constraint failed: " + e.Err.ConstraintName + " (" + e.Err.Message + ")"
}

func (e *UniqueError) Unwrap() error { return e.Err }

func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return &UniqueError{pe}
	}
	return err
}

func (c *pgConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return tx, nil
	}
	if _, err := c.Conn.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, []driver.NamedValue{{Ordinal: 1, Value: int64(writeLockKey)}}); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("take the records write lock: %w", err)
	}
	return tx, nil
}

type pgStmt struct{ driver.Stmt }

func (s pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	r, err := s.Stmt.(driver.StmtExecContext).ExecContext(ctx, pgArgs(args))
	return r, pgError(err)
}

func (s pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	r, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, pgArgs(args))
	if err != nil {
		return nil, pgError(err)
	}
	return pgRows{r.(*stdlib.Rows)}, nil
}

func pgArgs(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if b, ok := a.Value.(bool); ok {
			v := int64(0)
			if b {
				v = 1
			}
			args[i].Value = v
		}
	}
	return args
}

// Rebind turns ? placeholders into PostgreSQL's $1, $2, ..., leaving
// quoted strings, quoted identifiers and comments alone.
func Rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) {
				if query[j] == c {
					if j+1 < len(query) && query[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString(query[i:min(j+1, len(query))])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
