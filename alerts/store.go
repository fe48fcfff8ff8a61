package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Alert states.
const (
	Firing       = "firing"
	Acknowledged = "acknowledged"
	Resolved     = "resolved"
)

// Alert is one episode of a rule holding for a patient.
type Alert struct {
	ID            int64     `json:"id"`
	Rule          string    `json:"rule"`
	Patient       string    `json:"patient"`
	Severity      string    `json:"severity"`
	State         string    `json:"state"`
	FiredAt       time.Time `json:"fired_at"`
	Value         float64   `json:"value"`
	Partial       bool      `json:"partial,omitempty"`
	AckedBy       string    `json:"acked_by,omitempty"`
	AckedAt       time.Time `json:"acked_at,omitzero"`
	ResolvedBy    string    `json:"resolved_by,omitempty"`
	ResolvedAt    time.Time `json:"resolved_at,omitzero"`
	ResolveReason string    `json:"resolve_reason,omitempty"`
	// ResolveOutcome is why a clinician resolved it by hand (Outcomes);
	// empty when it cleared by itself or was resolved without one.
	ResolveOutcome string    `json:"resolve_outcome,omitempty"`
	EscalatedAt    time.Time `json:"escalated_at,omitzero"`
	// Group is the problem the alert belongs to (the id of the problem's
	// first alert): a patient's open alerts of one problem are one
	// notification (see Problem).
	Group int64 `json:"group"`
	// Missing names the NEWS2 parameters a partial score lacked at firing.
	Missing []string `json:"missing,omitempty"`
	// Baseline explains a baseline rule's alert: the patient's own
	// baseline, the recent value, the deviation and the days judged.
	Baseline *Explanation `json:"baseline,omitempty"`
}

// Errors of the store.
var (
	// ErrNotFound: no such alert.
	ErrNotFound = errors.New("alert not found")
	// ErrState: the alert is not in a state that allows the change.
	ErrState = errors.New("alert is not open")
	// ErrReason: resolving by hand needs a reason.
	ErrReason = errors.New("a reason is required")
)

// Store keeps alerts and their history in the records database.
type Store struct {
	db *sql.DB
}

// NewStore returns a store on the records database.
func NewStore(db *sql.DB) *Store { return &Store{db: db} }

const alertCols = `id, rule, patient, severity, state, fired_at, value, partial, acked_by, acked_at, resolved_by, resolved_at, resolve_reason, escalated_at, resolve_outcome, coalesce(group_id, id), missing, explanation`

func scanAlert(row interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var fired int64
	var acked, resolved, escalated sql.NullInt64
	var missing, explanation string
	err := row.Scan(&a.ID, &a.Rule, &a.Patient, &a.Severity, &a.State, &fired, &a.Value, &a.Partial, &a.AckedBy, &acked,
		&a.ResolvedBy, &resolved, &a.ResolveReason, &escalated, &a.ResolveOutcome, &a.Group, &missing, &explanation)
	if err != nil {
		return a, err
	}
	if explanation != "" {
		var ex Explanation
		if json.Unmarshal([]byte(explanation), &ex) == nil {
			a.Baseline = &ex
		}
	}
	if missing != "" {
		a.Missing = strings.Split(missing, ",")
	}
	a.FiredAt = time.Unix(0, fired).UTC()
	if acked.Valid {
		a.AckedAt = time.Unix(0, acked.Int64).UTC()
	}
	if resolved.Valid {
		a.ResolvedAt = time.Unix(0, resolved.Int64).UTC()
	}
	if escalated.Valid {
		a.EscalatedAt = time.Unix(0, escalated.Int64).UTC()
	}
	return a, nil
}

func (s *Store) event(ctx context.Context, tx *sql.Tx, id int64, at time.Time, kind, actor, detail string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_events (alert_id, at, kind, actor, detail) VALUES (?,?,?,?,?)`, id, at.UnixNano(), kind, actor, detail)
	return err
}

// Fire opens an alert for a transition, unless one is open for the rule and
// patient already; it reports whether a new alert was opened.
func (s *Store) Fire(ctx context.Context, tr Transition) (Alert, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	defer tx.Rollback()
	a, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE rule = ? AND patient = ? AND state != 'resolved'`, tr.Rule.ID, tr.Patient))
	if err == nil {
		return a, false, nil // this episode already has its alert
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	explanation := ""
	if tr.Explain != nil {
		b, _ := json.Marshal(tr.Explain)
		explanation = string(b)
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO alerts (rule, patient, severity, state, fired_at, value, partial, missing, explanation)
		VALUES (?,?,?,?,?,?,?,?,?) RETURNING id`,
		tr.Rule.ID, tr.Patient, tr.Rule.Severity, Firing, tr.At.UnixNano(), tr.Value, tr.Partial, strings.Join(tr.Missing, ","), explanation).Scan(&id)
	if err != nil {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	if err := joinGroup(ctx, tx, id, tr); err != nil {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	if err := s.event(ctx, tx, id, tr.At, Firing, "system", ""); err != nil {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Alert{}, false, fmt.Errorf("fire alert: %w", err)
	}
	a, err = s.Get(ctx, id)
	return a, err == nil, err
}

// Clear resolves the open alert of a rule and patient, when the condition
// cleared by itself.
func (s *Store) Clear(ctx context.Context, tr Transition) (Alert, bool, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM alerts WHERE rule = ? AND patient = ? AND state != 'resolved'`, tr.Rule.ID, tr.Patient).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, false, nil
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("clear alert: %w", err)
	}
	a, err := s.resolve(ctx, id, "system", "condition cleared", tr.At)
	return a, err == nil, err
}

// Get returns an alert.
func (s *Store) Get(ctx context.Context, id int64) (Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// Ack acknowledges an open alert.
func (s *Store) Ack(ctx context.Context, id int64, by string, at time.Time) (Alert, error) {
	return s.change(ctx, id, at, Acknowledged, by, "",
		`UPDATE alerts SET state = ?, acked_by = ?, acked_at = ? WHERE id = ? AND state = ?`,
		Acknowledged, by, at.UnixNano(), id, Firing)
}

// Resolve closes an open alert by hand, with a reason.
func (s *Store) Resolve(ctx context.Context, id int64, by, reason string, at time.Time) (Alert, error) {
	if strings.TrimSpace(reason) == "" {
		return Alert{}, ErrReason
	}
	return s.resolve(ctx, id, by, reason, at)
}

func (s *Store) resolve(ctx context.Context, id int64, by, reason string, at time.Time) (Alert, error) {
	return s.change(ctx, id, at, Resolved, by, reason,
		`UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ?, resolve_reason = ? WHERE id = ? AND state != ?`,
		Resolved, by, at.UnixNano(), reason, id, Resolved)
}

// change applies one lifecycle step (update, which must touch the row only
// when the step is allowed) and records it in the history, in one
// transaction. ErrState when the alert is not in a state for it.
func (s *Store) change(ctx context.Context, id int64, at time.Time, kind, by, detail, update string, args ...any) (Alert, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Alert{}, fmt.Errorf("%s alert: %w", kind, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, update, args...)
	if err != nil {
		return Alert{}, fmt.Errorf("%s alert: %w", kind, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Get(ctx, id); err != nil {
			return Alert{}, err
		}
		return Alert{}, ErrState
	}
	if err := s.event(ctx, tx, id, at, kind, by, detail); err != nil {
		return Alert{}, fmt.Errorf("%s alert: %w", kind, err)
	}
	if kind == Resolved {
		if err := closeGroupIfDone(ctx, tx, id, at); err != nil {
			return Alert{}, fmt.Errorf("%s alert: %w", kind, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Alert{}, fmt.Errorf("%s alert: %w", kind, err)
	}
	return s.Get(ctx, id)
}

// List returns alerts of the given patients (all when nil is passed with
// all=true), newest first; openOnly drops resolved ones.
func (s *Store) List(ctx context.Context, patients []string, openOnly bool, limit int) ([]Alert, error) {
	if len(patients) == 0 {
		return []Alert{}, nil
	}
	q := `SELECT ` + alertCols + ` FROM alerts WHERE patient IN (?` + strings.Repeat(",?", len(patients)-1) + `)`
	args := make([]any, 0, len(patients)+1)
	for _, p := range patients {
		args = append(args, p)
	}
	if openOnly {
		q += ` AND state != 'resolved'`
	}
	q += ` ORDER BY fired_at DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Open returns every open alert (to warm the engine at start).
func (s *Store) Open(ctx context.Context) ([]Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE state != 'resolved'`)
	if err != nil {
		return nil, fmt.Errorf("open alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Escalate raises by one severity step every alert still firing (not
// acknowledged) since before cutoff and not escalated yet, and returns them.
func (s *Store) Escalate(ctx context.Context, cutoff, now time.Time) ([]Alert, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, severity FROM alerts WHERE state = ? AND fired_at < ? AND escalated_at IS NULL`,
		Firing, cutoff.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("escalate: %w", err)
	}
	type due struct {
		id  int64
		sev string
	}
	var ds []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.sev); err != nil {
			rows.Close()
			return nil, err
		}
		ds = append(ds, d)
	}
	rows.Close()
	var out []Alert
	for _, d := range ds {
		sev := d.sev
		for i, x := range severities {
			if x == d.sev && i+1 < len(severities) {
				sev = severities[i+1]
			}
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return out, err
		}
		// The UPDATE is the claim: of the nodes sharing the records
		// database, only the one whose UPDATE changed the row escalates
		// (pages) it; the others find it escalated already.
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET severity = ?, escalated_at = ? WHERE id = ? AND state = ? AND escalated_at IS NULL`,
			sev, now.UnixNano(), d.id, Firing)
		won := false
		if err == nil {
			if n, _ := res.RowsAffected(); n == 1 {
				won = true
				err = s.event(ctx, tx, d.id, now, "escalated", "system", d.sev+" -> "+sev)
				if err == nil {
					err = raiseGroup(ctx, tx, d.id, sev)
				}
			}
		}
		if err != nil {
			tx.Rollback()
			return out, fmt.Errorf("escalate: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return out, err
		}
		if !won {
			continue
		}
		a, err := s.Get(ctx, d.id)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Snooze is a rule silenced for a patient until a time, with a reason.
type Snooze struct {
	Patient string    `json:"patient"`
	Rule    string    `json:"rule"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
	By      string    `json:"by"`
}

// AddSnooze records a snooze.
func (s *Store) AddSnooze(ctx context.Context, z Snooze, at time.Time) error {
	if strings.TrimSpace(z.Reason) == "" {
		return ErrReason
	}
	if !z.Until.After(at) {
		return fmt.Errorf("%w: until must be in the future", ErrState)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO alert_snoozes (patient, rule, until, reason, "by", at) VALUES (?,?,?,?,?,?)`,
		z.Patient, z.Rule, z.Until.UnixNano(), z.Reason, z.By, at.UnixNano())
	return err
}

// Snoozed reports whether a rule is snoozed for a patient at t.
func (s *Store) Snoozed(ctx context.Context, patient, rule string, t time.Time) bool {
	var n int
	s.db.QueryRowContext(ctx, `SELECT count(*) FROM alert_snoozes WHERE patient = ? AND rule = ? AND until > ?`,
		patient, rule, t.UnixNano()).Scan(&n)
	return n > 0
}

// SetOverride stores a per-patient rule level.
func (s *Store) SetOverride(ctx context.Context, patient, rule string, o Override, by string, at time.Time) error {
	var clear any
	if o.Clear != nil {
		clear = *o.Clear
	}
	var dev, days, base any
	if o.Deviation != nil {
		dev = *o.Deviation
	}
	if o.Days != nil {
		days = *o.Days
	}
	if o.Baseline != nil {
		base = *o.Baseline
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO rule_overrides (patient, rule, level, clear, deviation, days, baseline, "by", at) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (patient, rule) DO UPDATE SET level = excluded.level, clear = excluded.clear, deviation = excluded.deviation,
		days = excluded.days, baseline = excluded.baseline, "by" = excluded."by", at = excluded.at`,
		patient, rule, o.Level, clear, dev, days, base, by, at.UnixNano())
	return err
}

// Overrides loads every per-patient override: patient -> rule -> override.
func (s *Store) Overrides(ctx context.Context) (map[string]map[string]Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT patient, rule, level, clear, deviation, days, baseline FROM rule_overrides`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]Override{}
	for rows.Next() {
		var p, r string
		var o Override
		var clear, dev, base sql.NullFloat64
		var days sql.NullInt64
		if err := rows.Scan(&p, &r, &o.Level, &clear, &dev, &days, &base); err != nil {
			return nil, err
		}
		if clear.Valid {
			c := clear.Float64
			o.Clear = &c
		}
		if dev.Valid {
			d := dev.Float64
			o.Deviation = &d
		}
		if days.Valid {
			d := int(days.Int64)
			o.Days = &d
		}
		if base.Valid {
			b := base.Float64
			o.Baseline = &b
		}
		if out[p] == nil {
			out[p] = map[string]Override{}
		}
		out[p][r] = o
	}
	return out, rows.Err()
}
