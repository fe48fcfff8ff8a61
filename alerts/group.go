package alerts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Problem is one notification: a patient's alerts of one problem (a rule's
// Problem, such as one deterioration) that were open together. It carries
// the highest severity reached and leads with the first alert of that
// severity; the others are inside it, resolved ones included, so that the
// care team sees what the deterioration showed and in what order.
type Problem struct {
	ID       int64     `json:"id"` // the id of the problem's first alert (Alert.Group)
	Patient  string    `json:"patient"`
	Problem  string    `json:"problem"`  // what groups them: "deterioration", "glucose", "body_weight", "no_data:heart_rate", a rule's group
	Severity string    `json:"severity"` // the highest reached
	State    string    `json:"state"`    // firing while an open alert is unacknowledged, then acknowledged, resolved once all are
	OpenedAt time.Time `json:"opened_at"`
	ClosedAt time.Time `json:"closed_at,omitzero"`
	Lead     Alert     `json:"lead"`   // what the notification says: the first alert of the highest severity
	Alerts   []Alert   `json:"alerts"` // every alert of the problem, the lead first, then by severity and firing time
}

// joinGroup puts a new alert into the open group of its patient's problem,
// or opens one led by it, and raises the group's severity and lead when
// the alert is more severe than the group was (in the transaction of its
// firing).
func joinGroup(ctx context.Context, tx *sql.Tx, id int64, tr Transition) error {
	problem := tr.Rule.Problem()
	var gid, lead int64
	var sev string
	err := tx.QueryRowContext(ctx, `SELECT id, lead, severity FROM alert_groups WHERE patient = ? AND problem = ? AND closed_at IS NULL`,
		tr.Patient, problem).Scan(&gid, &lead, &sev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_groups (id, patient, problem, lead, severity, opened_at) VALUES (?,?,?,?,?,?)`,
			id, tr.Patient, problem, id, tr.Rule.Severity, tr.At.UnixNano()); err != nil {
			return fmt.Errorf("open alert group: %w", err)
		}
		gid = id
	case err != nil:
		return fmt.Errorf("find alert group: %w", err)
	case severityRank[tr.Rule.Severity] > severityRank[sev]:
		if _, err := tx.ExecContext(ctx, `UPDATE alert_groups SET lead = ?, severity = ? WHERE id = ?`, id, tr.Rule.Severity, gid); err != nil {
			return fmt.Errorf("raise alert group: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE alerts SET group_id = ? WHERE id = ?`, gid, id)
	return err
}

// closeGroupIfDone closes the group of a resolved alert once none of its
// alerts is open.
func closeGroupIfDone(ctx context.Context, tx *sql.Tx, id int64, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE alert_groups SET closed_at = ? WHERE closed_at IS NULL
		AND id = (SELECT group_id FROM alerts WHERE id = ?)
		AND NOT EXISTS (SELECT 1 FROM alerts WHERE group_id = alert_groups.id AND state != 'resolved')`, at.UnixNano(), id)
	return err
}

// raiseGroup raises the severity of an alert's group to sev when it was
// lower (an escalation).
func raiseGroup(ctx context.Context, tx *sql.Tx, id int64, sev string) error {
	var gid int64
	var cur string
	err := tx.QueryRowContext(ctx, `SELECT g.id, g.severity FROM alert_groups g JOIN alerts a ON a.group_id = g.id WHERE a.id = ?`, id).Scan(&gid, &cur)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil || severityRank[sev] <= severityRank[cur] {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE alert_groups SET severity = ? WHERE id = ?`, sev, gid)
	return err
}

// Problem reads one problem with its alerts.
func (s *Store) Problem(ctx context.Context, id int64) (Problem, error) {
	ps, err := s.problems(ctx, `g.id = ?`, id)
	if err != nil {
		return Problem{}, err
	}
	if len(ps) == 0 {
		return Problem{}, ErrNotFound
	}
	return ps[0], nil
}

// Problems returns the problems of the given patients, newest first
// (openOnly: those with an open alert), at most limit.
func (s *Store) Problems(ctx context.Context, patients []string, openOnly bool, limit int) ([]Problem, error) {
	if len(patients) == 0 {
		return []Problem{}, nil
	}
	where := `g.patient IN (?` + repeat(",?", len(patients)-1) + `)`
	args := make([]any, 0, len(patients))
	for _, p := range patients {
		args = append(args, p)
	}
	if openOnly {
		where += ` AND g.closed_at IS NULL`
	}
	ps, err := s.problems(ctx, where+` AND g.id IN (SELECT id FROM alert_groups g WHERE `+where+` ORDER BY opened_at DESC LIMIT ?)`,
		append(append(args, args...), limit)...)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].OpenedAt.After(ps[j].OpenedAt) })
	return ps, nil
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// problems reads the groups matching where (on alert_groups g) with their
// alerts.
func (s *Store) problems(ctx context.Context, where string, args ...any) ([]Problem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT g.id, g.patient, g.problem, g.lead, g.severity, g.opened_at, g.closed_at, `+alertColsOfA+`
		FROM alert_groups g JOIN alerts a ON a.group_id = g.id WHERE `+where+` ORDER BY g.id, a.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list problems: %w", err)
	}
	defer rows.Close()
	var out []Problem
	leads := map[int64]int64{}
	for rows.Next() {
		var p Problem
		var lead, opened int64
		var closed sql.NullInt64
		var a Alert
		scan := func(dst ...any) error {
			return rows.Scan(append([]any{&p.ID, &p.Patient, &p.Problem, &lead, &p.Severity, &opened, &closed}, dst...)...)
		}
		a, err := scanAlert(scanFunc(scan))
		if err != nil {
			return nil, fmt.Errorf("list problems: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != p.ID {
			p.OpenedAt = time.Unix(0, opened).UTC()
			if closed.Valid {
				p.ClosedAt = time.Unix(0, closed.Int64).UTC()
			}
			leads[p.ID] = lead
			out = append(out, p)
		}
		out[len(out)-1].Alerts = append(out[len(out)-1].Alerts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].finish(leads[out[i].ID])
	}
	return out, nil
}

// scanFunc adapts a scan of extra leading columns to scanAlert.
type scanFunc func(dst ...any) error

func (f scanFunc) Scan(dst ...any) error { return f(dst...) }

// alertColsOfA are alertCols of the alerts table named a.
const alertColsOfA = `a.id, a.rule, a.patient, a.severity, a.state, a.fired_at, a.value, a.partial, a.acked_by, a.acked_at, a.resolved_by, a.resolved_at, a.resolve_reason, a.escalated_at, a.resolve_outcome, coalesce(a.group_id, a.id), a.missing, a.explanation`

// finish orders a problem's alerts (the lead first, then the most severe
// and earliest) and derives its state.
func (p *Problem) finish(lead int64) {
	sort.SliceStable(p.Alerts, func(i, j int) bool {
		a, b := p.Alerts[i], p.Alerts[j]
		if (a.ID == lead) != (b.ID == lead) {
			return a.ID == lead
		}
		if severityRank[a.Severity] != severityRank[b.Severity] {
			return severityRank[a.Severity] > severityRank[b.Severity]
		}
		return a.FiredAt.Before(b.FiredAt)
	})
	if len(p.Alerts) > 0 {
		p.Lead = p.Alerts[0]
	}
	p.State = Resolved
	for _, a := range p.Alerts {
		switch {
		case a.State == Firing:
			p.State = Firing
		case a.State == Acknowledged && p.State == Resolved:
			p.State = Acknowledged
		}
	}
}
