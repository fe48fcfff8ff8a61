package rpm

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of care-management time a clinician records. A phone call with
// the patient is a real-time interactive communication; reviewing data
// and adjusting the plan are not. (Video visits count from the visit
// records, not from entries.)
const (
	KindPhoneCall      = "phone_call"
	KindDataReview     = "data_review"
	KindPlanAdjustment = "plan_adjustment"
)

var kinds = map[string]bool{KindPhoneCall: true, KindDataReview: true, KindPlanAdjustment: true}

// Bounds of an entry.
const (
	// MaxEntrySeconds is the longest entry: four hours of one sitting.
	MaxEntrySeconds = 4 * 3600
	// MaxNoteChars bounds an entry's note.
	MaxNoteChars = 2000
	// maxEntryAge is how far back an entry may be dated: a month's time
	// is recorded in the month or shortly after.
	maxEntryAge = 180 * 24 * time.Hour
	// listLimit bounds one list of entries.
	listLimit = 500
)

// TimeEntry is time a clinician spent on a patient's care management.
type TimeEntry struct {
	ID          int64     `json:"id"`
	Patient     string    `json:"patient"`
	Start       time.Time `json:"start"`
	Seconds     int       `json:"seconds"`
	Clinician   string    `json:"clinician"`
	Kind        string    `json:"kind"`
	Interactive bool      `json:"interactive"`
	Note        string    `json:"note,omitempty"`
	// Supersedes is the entry this one corrects; Void marks a correction
	// that withdraws it (recorded in error).
	Supersedes int64 `json:"supersedes,omitempty"`
	Void       bool  `json:"void,omitempty"`
	// SupersededBy is the correction of this entry, when there is one:
	// the entry stays, and no longer counts.
	SupersededBy int64     `json:"superseded_by,omitempty"`
	RecordedBy   string    `json:"recorded_by"`
	RecordedAt   time.Time `json:"recorded_at"`
}

// NewTimeEntry is what a clinician sends: a new entry, or (with
// Supersedes) the correction of one.
type NewTimeEntry struct {
	Start      time.Time `json:"start"`
	Seconds    int       `json:"seconds"`
	Kind       string    `json:"kind"`
	Note       string    `json:"note,omitempty"`
	Supersedes int64     `json:"supersedes,omitempty"`
	Void       bool      `json:"void,omitempty"`
}

func (e NewTimeEntry) check(now time.Time) error {
	switch {
	case e.Void && e.Supersedes == 0:
		return fmt.Errorf("%w: void: only a correction (supersedes) withdraws an entry", ErrInvalid)
	case e.Void:
		// A withdrawal carries no time of its own.
	case e.Start.IsZero():
		return fmt.Errorf("%w: start: an RFC 3339 time", ErrInvalid)
	case e.Start.After(now.Add(time.Minute)):
		return fmt.Errorf("%w: start: not in the future", ErrInvalid)
	case e.Start.Before(now.Add(-maxEntryAge)):
		return fmt.Errorf("%w: start: within the last 180 days", ErrInvalid)
	case e.Seconds < 1 || e.Seconds > MaxEntrySeconds:
		return fmt.Errorf("%w: seconds: 1 to %d (4 hours)", ErrInvalid, MaxEntrySeconds)
	case !kinds[e.Kind]:
		return fmt.Errorf("%w: kind: phone_call, data_review or plan_adjustment", ErrInvalid)
	}
	if utf8.RuneCountInString(e.Note) > MaxNoteChars || !utf8.ValidString(e.Note) {
		return fmt.Errorf("%w: note: at most %d characters of text", ErrInvalid, MaxNoteChars)
	}
	return nil
}

// Record adds clinician's entry for patient, or a correction that
// supersedes one of the patient's entries not yet corrected (the old
// entry stays, and stops counting).
func (p *Program) Record(ctx context.Context, patient, clinician string, e NewTimeEntry) (TimeEntry, error) {
	now := p.now()
	if err := e.check(now); err != nil {
		return TimeEntry{}, err
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return TimeEntry{}, err
	}
	defer tx.Rollback()
	if e.Supersedes != 0 {
		var n, corrected int
		var start int64
		var kind string
		if err := tx.QueryRowContext(ctx, `SELECT count(*), COALESCE(max(started_at), 0), COALESCE(max(kind), ''),
			(SELECT count(*) FROM time_entries WHERE supersedes = ?) FROM time_entries WHERE id = ? AND patient = ?`,
			e.Supersedes, e.Supersedes, patient).Scan(&n, &start, &kind, &corrected); err != nil {
			return TimeEntry{}, fmt.Errorf("correct time entry: %w", err)
		}
		if n == 0 {
			return TimeEntry{}, fmt.Errorf("time entry %d: %w", e.Supersedes, ErrNotFound)
		}
		if corrected > 0 {
			return TimeEntry{}, fmt.Errorf("%w: time entry %d is already corrected; correct its correction", ErrConflict, e.Supersedes)
		}
		if e.Void {
			e.Start, e.Seconds, e.Kind = time.UnixMilli(start), 0, kind
		}
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO time_entries (patient, started_at, seconds, clinician, kind, interactive, note,
		supersedes, void, recorded_by, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING id`,
		patient, e.Start.UnixMilli(), e.Seconds, clinician, e.Kind, e.Kind == KindPhoneCall, e.Note, nullID(e.Supersedes), e.Void,
		clinician, now.UnixMilli()).Scan(&id)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return TimeEntry{}, fmt.Errorf("%w: time entry %d is already corrected", ErrConflict, e.Supersedes)
		}
		return TimeEntry{}, fmt.Errorf("record time entry: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return TimeEntry{}, fmt.Errorf("record time entry: %w", err)
	}
	return p.entry(ctx, patient, id)
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

const entryCols = `t.id, t.patient, t.started_at, t.seconds, t.clinician, t.kind, t.interactive, t.note, COALESCE(t.supersedes, 0), t.void,
	COALESCE((SELECT c.id FROM time_entries c WHERE c.supersedes = t.id), 0), t.recorded_by, t.recorded_at`

func scanEntry(sc interface{ Scan(...any) error }) (TimeEntry, error) {
	var e TimeEntry
	var start, rec int64
	err := sc.Scan(&e.ID, &e.Patient, &start, &e.Seconds, &e.Clinician, &e.Kind, &e.Interactive, &e.Note, &e.Supersedes, &e.Void,
		&e.SupersededBy, &e.RecordedBy, &rec)
	e.Start, e.RecordedAt = time.UnixMilli(start).UTC(), time.UnixMilli(rec).UTC()
	return e, err
}

func (p *Program) entry(ctx context.Context, patient string, id int64) (TimeEntry, error) {
	e, err := scanEntry(p.db.QueryRowContext(ctx, `SELECT `+entryCols+` FROM time_entries t WHERE t.id = ? AND t.patient = ?`, id, patient))
	if err != nil {
		return e, fmt.Errorf("read time entry: %w", err)
	}
	return e, nil
}

// Entries lists a patient's entries started in [from, to), corrections
// and the entries they supersede included, newest first (at most 500).
func (p *Program) Entries(ctx context.Context, patient string, from, to time.Time) ([]TimeEntry, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT `+entryCols+` FROM time_entries t WHERE t.patient = ? AND t.started_at >= ? AND t.started_at < ?
		ORDER BY t.started_at DESC, t.id DESC LIMIT ?`, patient, from.UnixMilli(), to.UnixMilli(), listLimit)
	if err != nil {
		return nil, fmt.Errorf("list time entries: %w", err)
	}
	defer rows.Close()
	out := []TimeEntry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("list time entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
