package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Why a clinician resolved an alert by hand. The list is fixed so that the
// program's measures can count them (a free-text reason cannot be).
const (
	// OutcomeActedOn: the alert was clinically relevant and acted on.
	OutcomeActedOn = "acted_on"
	// OutcomeNotRelevant: a real reading, but not clinically relevant
	// for this patient (a known baseline, an expected change).
	OutcomeNotRelevant = "not_clinically_relevant"
	// OutcomeArtifact: not a real physiological change (a probe off, a
	// cuff too loose, movement).
	OutcomeArtifact = "artifact"
	// OutcomeDuplicate: another alert covers the same event.
	OutcomeDuplicate = "duplicate"
	// OutcomeOther: none of these; the note says what.
	OutcomeOther = "other"
)

// Outcomes lists the outcomes a resolve may name, in the order the page
// offers them.
func Outcomes() []string {
	return []string{OutcomeActedOn, OutcomeNotRelevant, OutcomeArtifact, OutcomeDuplicate, OutcomeOther}
}

// NotClinicallyRelevant tells whether an outcome counts as an alert that
// was not clinically relevant in the alert-burden measure: the reading
// did not call for care (not relevant, or not real).
func NotClinicallyRelevant(outcome string) bool {
	return outcome == OutcomeNotRelevant || outcome == OutcomeArtifact
}

// MaxNoteRunes bounds a resolve's note.
const MaxNoteRunes = 1000

// ErrOutcome: the outcome is not one of Outcomes, or the note is too long
// or missing where it is needed.
var ErrOutcome = errors.New("outcome: one of " + strings.Join(Outcomes(), ", ") + "; other needs a note; a note of at most 1000 characters")

// Resolution is why an alert was resolved by hand: an outcome of Outcomes
// and an optional note (required for OutcomeOther, and when no outcome is
// given, as older clients send only a reason).
type Resolution struct {
	Outcome string
	Note    string
}

// Validate checks the resolution.
func (r Resolution) Validate() error {
	note := strings.TrimSpace(r.Note)
	if utf8.RuneCountInString(note) > MaxNoteRunes {
		return ErrOutcome
	}
	switch r.Outcome {
	case "":
		if note == "" {
			return ErrReason
		}
	case OutcomeOther:
		if note == "" {
			return ErrOutcome
		}
	case OutcomeActedOn, OutcomeNotRelevant, OutcomeArtifact, OutcomeDuplicate:
	default:
		return ErrOutcome
	}
	return nil
}

// ResolveWith closes an open alert by hand with an outcome and a note.
func (s *Store) ResolveWith(ctx context.Context, id int64, by string, r Resolution, at time.Time) (Alert, error) {
	if err := r.Validate(); err != nil {
		return Alert{}, err
	}
	note := strings.TrimSpace(r.Note)
	detail := note
	if r.Outcome != "" {
		detail = strings.TrimSpace(r.Outcome + ": " + note)
	}
	return s.change(ctx, id, at, Resolved, by, detail,
		`UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ?, resolve_reason = ?, resolve_outcome = ? WHERE id = ? AND state != ?`,
		Resolved, by, at.UnixNano(), note, r.Outcome, id, Resolved)
}

// ResolveWith closes an alert by hand with an outcome and a note.
func (s *Service) ResolveWith(ctx context.Context, id int64, by string, r Resolution) (Alert, error) {
	a, err := s.store.ResolveWith(ctx, id, by, r, s.now())
	if err == nil {
		s.changed("alert.resolved", a)
	}
	return a, err
}

// Fired is an alert with the severity it fired with (escalation raises
// an alert's severity; the program's measures count it under the first).
type Fired struct {
	Alert
	FiredSeverity string
}

// FiredBetween lists the alerts of the given patients that fired in
// [from, to), oldest first, at most limit of them (the program's measures
// read these; an index on fired_at bounds the scan to the period).
func (s *Store) FiredBetween(ctx context.Context, patients []string, from, to time.Time, limit int) ([]Fired, error) {
	out := []Fired{}
	if len(patients) == 0 {
		return out, nil
	}
	in := map[string]bool{}
	for _, p := range patients {
		in[p] = true
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertColsOfA+`, COALESCE(e.detail, '') FROM alerts a
		LEFT JOIN alert_events e ON e.alert_id = a.id AND e.kind = 'escalated'
		WHERE a.fired_at >= ? AND a.fired_at < ? ORDER BY a.fired_at, a.id LIMIT ?`,
		from.UnixNano(), to.UnixNano(), limit+1)
	if err != nil {
		return nil, fmt.Errorf("alerts fired between: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var f Fired
		var detail string
		a, err := scanAlert(scanWith{rows, &detail})
		if err != nil {
			return nil, err
		}
		if n++; n > limit {
			return nil, ErrTooMany
		}
		f.Alert, f.FiredSeverity = a, a.Severity
		if before, _, ok := strings.Cut(detail, " -> "); ok {
			f.FiredSeverity = before
		}
		if in[a.Patient] {
			out = append(out, f)
		}
	}
	return out, rows.Err()
}

// scanWith scans a row of an alert's columns and more.
type scanWith struct {
	row   interface{ Scan(...any) error }
	extra *string
}

func (s scanWith) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra)...) }

// ErrTooMany: a period holds more alerts than a report may read at once.
var ErrTooMany = errors.New("too many alerts in the period; choose a shorter one")

// FiredBetween lists the alerts of patients that fired in [from, to).
func (s *Service) FiredBetween(ctx context.Context, patients []string, from, to time.Time, limit int) ([]Fired, error) {
	return s.store.FiredBetween(ctx, patients, from, to, limit)
}
