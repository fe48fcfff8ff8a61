package telehealth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EndedVisit is an ended visit's patient, end and interactive seconds:
// what a program's measures count (no note, no chat).
type EndedVisit struct {
	ID                 string
	Patient            string
	EndedAt            time.Time
	InteractiveSeconds int
}

// ErrTooManyVisits: a period holds more visits than one read may return.
var ErrTooManyVisits = errors.New("too many visits in the period; choose a shorter one")

// EndedBetween lists the visits that ended in [from, to), oldest first,
// with their interactive seconds, in one query; at most limit visits
// (ErrTooManyVisits past it).
func (v *Visits) EndedBetween(ctx context.Context, from, to time.Time, limit int) ([]EndedVisit, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT v.id, v.patient, v.ended_at, p.role, p.joined_at, p.left_at
		FROM visits v LEFT JOIN visit_presence p ON p.visit = v.id
		WHERE v.ended_at >= ? AND v.ended_at < ? ORDER BY v.ended_at, v.id, p.id`, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("visits ended between: %w", err)
	}
	defer rows.Close()
	out := []EndedVisit{}
	var ps []Presence
	flush := func() {
		if n := len(out); n > 0 {
			out[n-1].InteractiveSeconds = interactive(ps, out[n-1].EndedAt)
		}
		ps = ps[:0]
	}
	for rows.Next() {
		var id, patient string
		var ended int64
		var role sql.NullString
		var joined, left sql.NullInt64
		if err := rows.Scan(&id, &patient, &ended, &role, &joined, &left); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			flush()
			if len(out) == limit {
				return nil, ErrTooManyVisits
			}
			out = append(out, EndedVisit{ID: id, Patient: patient, EndedAt: time.UnixMilli(ended).UTC()})
		}
		if role.Valid && joined.Valid {
			p := Presence{Role: role.String, JoinedAt: time.UnixMilli(joined.Int64).UTC()}
			if left.Valid {
				p.LeftAt = time.UnixMilli(left.Int64).UTC()
			}
			ps = append(ps, p)
		}
	}
	flush()
	return out, rows.Err()
}
