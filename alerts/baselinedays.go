package alerts

import (
	"context"
	"fmt"
	"strings"
)

// BaselineDay is a closed day's value of a baseline rule for a patient.
type BaselineDay struct {
	Patient, Rule, Spec string
	Day                 int64 // days since the epoch of the window's local start date
	Value               float64
}

// spec names what a baseline rule's daily value depends on: a day kept
// under another spec is not reused.
func (r *Rule) spec() string {
	return fmt.Sprintf("%s|%s|%d", r.Vital, r.Hours, r.MinSlots)
}

// SaveBaselineDays keeps closed days (a day saved again is replaced) and
// drops those older than the four weeks a baseline looks back over.
func (s *Store) SaveBaselineDays(ctx context.Context, days []BaselineDay, oldest int64) error {
	if len(days) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save baseline days: %w", err)
	}
	defer tx.Rollback()
	for lo := 0; lo < len(days); lo += 100 {
		chunk := days[lo:min(lo+100, len(days))]
		args := make([]any, 0, 5*len(chunk))
		for _, d := range chunk {
			args = append(args, d.Patient, d.Rule, d.Spec, d.Day, d.Value)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO baseline_days (patient, rule, spec, day, value) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?,?,?,?,?),", len(chunk)), ",")+
			` ON CONFLICT (patient, rule, day) DO UPDATE SET spec = excluded.spec, value = excluded.value`, args...); err != nil {
			return fmt.Errorf("save baseline days: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM baseline_days WHERE day < ?`, oldest); err != nil {
		return fmt.Errorf("save baseline days: %w", err)
	}
	return tx.Commit()
}

// BaselineDays returns the kept days of the patients from day since on,
// per patient and rule, in day order.
func (s *Store) BaselineDays(ctx context.Context, patients []string, since int64) (map[string]map[string][]BaselineDay, error) {
	out := map[string]map[string][]BaselineDay{}
	for lo := 0; lo < len(patients); lo += 500 {
		chunk := patients[lo:min(lo+500, len(patients))]
		args := make([]any, 0, len(chunk)+1)
		for _, p := range chunk {
			args = append(args, p)
		}
		args = append(args, since)
		rows, err := s.db.QueryContext(ctx, `SELECT patient, rule, spec, day, value FROM baseline_days
			WHERE patient IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`) AND day >= ? ORDER BY patient, rule, day`, args...)
		if err != nil {
			return nil, fmt.Errorf("baseline days: %w", err)
		}
		for rows.Next() {
			var d BaselineDay
			if err := rows.Scan(&d.Patient, &d.Rule, &d.Spec, &d.Day, &d.Value); err != nil {
				rows.Close()
				return nil, fmt.Errorf("baseline days: %w", err)
			}
			if out[d.Patient] == nil {
				out[d.Patient] = map[string][]BaselineDay{}
			}
			out[d.Patient][d.Rule] = append(out[d.Patient][d.Rule], d)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("baseline days: %w", err)
		}
	}
	return out, nil
}
