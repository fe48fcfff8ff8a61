package security

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// The attacker here holds records.db (a copy of the data folder, a backup,
// a shell on the server) but not the audit keys or the checkpoint log,
// which production keeps on another volume. They stop the service, change
// the audit trail with plain SQL, and the operator runs `vitalwire audit
// verify`: it must name what was done and exit nonzero.

// auditedService runs the service, has a patient read their own readings
// (each read is an audited event), stops it and returns it with the
// number of events in the trail.
func auditedService(t *testing.T) (*harness.Service, int64) {
	t.Helper()
	s := harness.Start(t, harness.Config(t))
	s.AddPatient(t, chart.Patient{ID: "pt-tamper", MRN: "MRN-T1", Name: "Tamper Test", BirthDate: "1970-01-01"})
	now := time.Now()
	for i := 0; i < 12; i++ {
		s.Readings(t, "pt-tamper", vitals.HeartRate, now.Add(-time.Hour), now)
	}
	s.Stop()
	db := records(t, s)
	var n int64
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM audit_events`).Scan(&n))
	require.Greater(t, n, int64(10))
	return s, n
}

func records(t *testing.T, s *harness.Service) *sql.DB {
	t.Helper()
	db, err := sqldb.Open(filepath.Join(s.Config().DataDir, "records.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func checkpointFile(s *harness.Service) string { return s.Config().Auth.Audit.CheckpointFile }

// row is an audit event as stored.
type row struct {
	seq                                                           int64
	at                                                            int64
	actor, role, action, patient, resource, outcome, source, prev string
	breakGlass                                                    bool
	hash                                                          string
}

func readRows(t *testing.T, db *sql.DB) []row {
	t.Helper()
	rows, err := db.Query(`SELECT seq, at, actor, role, action, patient, resource, outcome, source, break_glass, prev_hash, hash
		FROM audit_events ORDER BY seq`)
	require.NoError(t, err)
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.seq, &r.at, &r.actor, &r.role, &r.action, &r.patient, &r.resource, &r.outcome,
			&r.source, &r.breakGlass, &r.prev, &r.hash))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// sha is the unkeyed chain's digest, as anyone who reads the source can
// compute it: SHA-256 of the length-prefixed fields.
func (r row) sha() string {
	h := sha256.New()
	for _, f := range []string{strconv.FormatInt(r.seq, 10), strconv.FormatInt(r.at, 10), r.actor, r.role, r.action,
		r.patient, r.resource, r.outcome, r.source, strconv.FormatBool(r.breakGlass), r.prev} {
		h.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// rechain deletes the events in del, numbers the later ones again and
// recomputes their prev_hash and hash from the first deleted one on (the
// events before it are left as they are): the rewrite that leaves a
// plain hash chain looking intact.
func rechain(t *testing.T, db *sql.DB, del ...int64) {
	t.Helper()
	gone := map[int64]bool{}
	first := del[0]
	for _, s := range del {
		gone[s] = true
		first = min(first, s)
	}
	rows := readRows(t, db)
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`DELETE FROM audit_events WHERE seq >= ?`, first)
	require.NoError(t, err)
	prev := rows[first-2].hash
	seq := first - 1
	for _, r := range rows[first-1:] {
		if gone[r.seq] {
			continue
		}
		seq++
		r.seq, r.prev = seq, prev
		r.hash = r.sha()
		prev = r.hash
		_, err := tx.Exec(`INSERT INTO audit_events (seq, at, actor, role, action, patient, resource, outcome, source,
			break_glass, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			r.seq, r.at, r.actor, r.role, r.action, r.patient, r.resource, r.outcome, r.source, r.breakGlass, r.prev, r.hash)
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit())
}

func execSQL(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	_, err := db.Exec(query, args...)
	require.NoError(t, err)
}

// requireFinding runs audit verify and requires a nonzero exit and every
// phrase in its output.
func requireFinding(t *testing.T, s *harness.Service, phrases ...string) {
	t.Helper()
	code, out := s.AuditVerify(t)
	t.Logf("vitalwire audit verify (exit %d):\n%s", code, out)
	require.NotZero(t, code, "audit verify must fail on a tampered trail:\n%s", out)
	for _, p := range phrases {
		require.Contains(t, out, p)
	}
}

func TestAuditTamperingIsDetected(t *testing.T) {
	t.Run("an untouched trail verifies, exit status 0", func(t *testing.T) {
		s, _ := auditedService(t)
		code, out := s.AuditVerify(t)
		require.Zero(t, code, out)
		require.Regexp(t, `audit chain intact: \d+ events`, out)
	})
	t.Run("an edited event is named by its seq", func(t *testing.T) {
		s, _ := auditedService(t)
		execSQL(t, records(t, s), `UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3`)
		requireFinding(t, s, "edited: event 3")
	})
	t.Run("deleted events are named as a gap", func(t *testing.T) {
		s, _ := auditedService(t)
		execSQL(t, records(t, s), `DELETE FROM audit_events WHERE seq IN (5, 6)`)
		requireFinding(t, s, "deleted: events 5-6")
	})
	t.Run("deleting the newest events is named as truncation", func(t *testing.T) {
		s, n := auditedService(t)
		execSQL(t, records(t, s), `DELETE FROM audit_events WHERE seq > ?`, n-3)
		requireFinding(t, s, "truncated:", "event "+strconv.FormatInt(n, 10))
	})
	t.Run("a service started on a truncated trail keeps serving and raises the alarm", func(t *testing.T) {
		s, n := auditedService(t)
		execSQL(t, records(t, s), `DELETE FROM audit_events WHERE seq > ?`, n-3)
		again := harness.Start(t, s.Config())
		require.GreaterOrEqual(t, again.Metrics(t)["vitalwire_audit_checkpoint_failures_total"], 1.0,
			"an operator's alerting sees the mismatch with the newest checkpoint")
	})
	t.Run("deleting events and recomputing the hash chain is named", func(t *testing.T) {
		s, _ := auditedService(t)
		rechain(t, records(t, s), 4, 5)
		requireFinding(t, s, "recomputed: events from 4", "truncated:")
	})
	t.Run("removing the keyed chain's anchor and recomputing every hash is named", func(t *testing.T) {
		s, _ := auditedService(t)
		db := records(t, s)
		execSQL(t, db, `DELETE FROM audit_chain`)
		rechain(t, db, 2)
		requireFinding(t, s, "anchor: checkpoint", "the database's anchor says nothing")
	})
	t.Run("a service started after the anchor and the checkpoints were removed raises the alarm", func(t *testing.T) {
		s, _ := auditedService(t)
		db := records(t, s)
		execSQL(t, db, `DELETE FROM audit_chain`)
		rechain(t, db, 2)
		require.NoError(t, os.Remove(checkpointFile(s)))
		again := harness.Start(t, s.Config())
		require.GreaterOrEqual(t, again.Metrics(t)["vitalwire_audit_checkpoint_failures_total"], 1.0,
			"a chain key older than the anchor it makes is an alarm")
	})
	t.Run("deleting the newest events and rewriting the checkpoint file to match is named", func(t *testing.T) {
		s, n := auditedService(t)
		db := records(t, s)
		execSQL(t, db, `DELETE FROM audit_events WHERE seq > ?`, n-3)
		var head string
		require.NoError(t, db.QueryRow(`SELECT hash FROM audit_events WHERE seq = ?`, n-3).Scan(&head))
		b, err := os.ReadFile(checkpointFile(s))
		require.NoError(t, err, "the service keeps checkpoints of the chain's head")
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var cp map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &cp))
			if int64(cp["seq"].(float64)) > n-3 {
				cp["seq"], cp["head"] = n-3, head
			}
			nb, err := json.Marshal(cp)
			require.NoError(t, err)
			lines = append(lines, string(nb))
		}
		require.NoError(t, os.WriteFile(checkpointFile(s), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		requireFinding(t, s, "checkpoint signature:")
	})
}

func TestAuditCheckpointsAreShippedOffTheMachine(t *testing.T) {
	var mu sync.Mutex
	var posted [][]byte
	failures := 1
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 { // the sink is down at first: the service retries
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		posted = append(posted, b)
	}))
	t.Cleanup(sink.Close)
	syslogd, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { syslogd.Close() })

	cfg := harness.Config(t)
	cfg.Auth.Audit.CheckpointURL = sink.URL + "/checkpoints"
	cfg.Auth.Audit.CheckpointSyslog = "udp://" + syslogd.LocalAddr().String()
	s := harness.Start(t, cfg)
	s.AddPatient(t, chart.Patient{ID: "pt-ship", MRN: "MRN-S1", Name: "Ship Test", BirthDate: "1970-01-01"})
	now := time.Now()
	s.Readings(t, "pt-ship", vitals.HeartRate, now.Add(-time.Hour), now)
	s.Stop()

	b, err := os.ReadFile(checkpointFile(s))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	newest := lines[len(lines)-1]
	var cp struct{ Seq int64 }
	require.NoError(t, json.Unmarshal([]byte(newest), &cp))
	require.Positive(t, cp.Seq, "the shutdown checkpoint names the newest event")

	t.Run("the HTTP sink has the newest checkpoint, posted as JSON", func(t *testing.T) {
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(posted) > 0 && string(posted[len(posted)-1]) == newest+"\n"
		}, 10*time.Second, 20*time.Millisecond)
	})
	t.Run("syslog has the newest checkpoint", func(t *testing.T) {
		buf := make([]byte, 64<<10)
		require.NoError(t, syslogd.SetReadDeadline(time.Now().Add(10*time.Second)))
		for {
			n, _, err := syslogd.ReadFrom(buf)
			require.NoError(t, err, "no syslog message with the newest checkpoint")
			if strings.Contains(string(buf[:n]), newest) {
				require.Contains(t, string(buf[:n]), "vitalwire-audit")
				return
			}
		}
	})
}
