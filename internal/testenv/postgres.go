package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// RecordsEnv selects the records engine of the tests that take their
// records database from Records: "postgres" runs them on a throwaway
// PostgreSQL, anything else on SQLite. CI runs the records stores' tests
// once with each (.ci/run).
const RecordsEnv = "VITALWIRE_TEST_RECORDS"

// Records names a new, empty records database for t on the engine
// VITALWIRE_TEST_RECORDS selects; it is dropped when t ends.
func Records(t testing.TB) sqldb.Records {
	t.Helper()
	if os.Getenv(RecordsEnv) == "postgres" {
		return sqldb.Records{Kind: "postgres", Postgres: PostgresDB(t)}
	}
	return sqldb.Records{Path: filepath.Join(t.TempDir(), "records.db")}
}

// OpenRecords opens (migrated) a new records database for t, as Records
// names it, closed when t ends.
func OpenRecords(t testing.TB) *sql.DB {
	t.Helper()
	return OpenRecordsAt(t, Records(t))
}

// OpenRecordsAt opens the records database r, closed when t ends.
func OpenRecordsAt(t testing.TB, r sqldb.Records) *sql.DB {
	t.Helper()
	db, err := r.Open(context.Background())
	if err != nil {
		t.Fatalf("open records: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PGCluster is a PostgreSQL cluster of this test process: initdb'd into a
// temporary folder, listening on a free loopback port (and a unix socket
// in that folder), a password required over TCP. It is started the first
// time a test asks for it and dies with the test process (parent-death
// signal); folders of clusters whose process is gone are removed by the
// next start.
type PGCluster struct {
	Host     string
	Port     int
	User     string
	Password string
	dir      string
	admin    *sql.DB // to the database "records", whose schemas the tests take
	n        atomic.Int64
}

var (
	pgOnce    sync.Once
	pgCluster *PGCluster
	pgErr     error
)

// PostgresBin is the folder of initdb and postgres: $VITALWIRE_PG_BIN, or
// Debian's PostgreSQL 15.
func PostgresBin() string {
	if d := os.Getenv("VITALWIRE_PG_BIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// Postgres returns this process's PostgreSQL cluster, starting it on first
// use. A missing PostgreSQL skips t (fails it under
// VITALWIRE_REQUIRE_INTEGRATION=1).
func Postgres(t testing.TB) *PGCluster {
	t.Helper()
	bin := PostgresBin()
	if !fileExists(filepath.Join(bin, "initdb")) || !fileExists(filepath.Join(bin, "postgres")) {
		Missing(t, "PostgreSQL: no initdb and postgres in %s (apt-get install postgresql, or set VITALWIRE_PG_BIN)", bin)
	}
	pgOnce.Do(func() { pgCluster, pgErr = startPostgres(bin) })
	if pgErr != nil {
		t.Fatalf("start PostgreSQL: %v", pgErr)
	}
	return pgCluster
}

// PostgresDB gives t an empty records database of its own in the
// process's cluster, dropped when t ends. It is a schema of the cluster's
// one database, named in the DSN's search_path: the service sees a
// database of its own (its tables, its schema_migrations), and making one
// costs a CREATE SCHEMA where a CREATE DATABASE costs a checkpoint (1.5 to
// 2.5 s each on a loaded CI machine, measured).
func PostgresDB(t testing.TB) sqldb.Postgres {
	t.Helper()
	c := Postgres(t)
	name := fmt.Sprintf("t%d", c.n.Add(1))
	if _, err := c.admin.Exec(`CREATE SCHEMA ` + name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := c.admin.Exec(`DROP SCHEMA ` + name + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	p := c.Database("records")
	p.DSN += "&search_path=" + name
	return p
}

// Database is the connection settings of database name in the cluster.
func (c *PGCluster) Database(name string) sqldb.Postgres {
	return sqldb.Postgres{DSN: fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", c.User, c.Host, c.Port, name), Password: c.Password}
}

// pgOwner is who initdb and postgres run as: they refuse root.
func pgOwner() (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startPostgres(bin string) (*PGCluster, error) {
	removeStalePostgres()
	cred, err := pgOwner()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vitalwire-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	rand.Read(pw)
	c := &PGCluster{Host: "127.0.0.1", Port: 0, User: "vitalwire", Password: hex.EncodeToString(pw), dir: dir}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", c.User, "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	os.Remove(pwfile)
	var lastErr error
	for range 3 { // a free port may be taken between the check and the bind
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c.Port = port
		if lastErr = c.run(bin, data, cred); lastErr == nil {
			return c, nil
		}
	}
	return nil, lastErr
}

func (c *PGCluster) run(bin, data string, cred *syscall.Credential) error {
	out := &lockedBuffer{}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(c.Port), "-k", c.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "shared_buffers=32MB", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		admin, err := sqldb.ConnectPostgres(ctx, c.Database("postgres"))
		if err == nil {
			c.admin = admin
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres exited: %s", out.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			return fmt.Errorf("postgres not ready after 60 s: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, err := c.admin.Exec(`CREATE DATABASE records`); err != nil {
		return err
	}
	admin, err := sqldb.ConnectPostgres(ctx, c.Database("records"))
	if err != nil {
		return err
	}
	c.admin.Close()
	c.admin = admin
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeStalePostgres removes the folders of earlier test processes'
// clusters whose process has exited.
func removeStalePostgres() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "vitalwire-pg-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// JamInserts makes every INSERT into table fail ("disk full") until the
// returned function is called, on either records engine: the way tests
// make a store refuse a write.
func JamInserts(t testing.TB, db *sql.DB, table string) (unjam func()) {
	t.Helper()
	name := "jam_" + table
	stmts := []string{`CREATE TRIGGER ` + name + ` BEFORE INSERT ON ` + table + ` BEGIN SELECT RAISE(FAIL, 'disk full'); END`}
	undo := []string{`DROP TRIGGER ` + name}
	if sqldb.IsPostgres(db) {
		stmts = []string{
			`CREATE OR REPLACE FUNCTION ` + name + `() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
			`CREATE TRIGGER ` + name + ` BEFORE INSERT ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION ` + name + `()`,
		}
		undo = []string{`DROP TRIGGER ` + name + ` ON ` + table}
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("jam %s: %v", table, err)
		}
	}
	return func() {
		t.Helper()
		for _, s := range undo {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("unjam %s: %v", table, err)
			}
		}
	}
}
