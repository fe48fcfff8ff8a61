package rpm

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Management codes a program bills for a patient's care-management time.
const (
	// Manage99457 is treatment management by time in a calendar month
	// (99457, 99458, and from 2026 99470).
	Manage99457 = "99457"
	// Manage99091 is a physician's collection and interpretation of the
	// data, 30 minutes; never billed with 99457 in the same month.
	Manage99091 = "99091"
)

// icd10cm is the form of an ICD-10-CM code: a letter, a digit, a digit
// or letter (C4A, M1A), then optionally a dot and 1-4 characters (the
// seventh character may be a letter, X a placeholder). Only the form is
// checked, not that the code exists in this year's code set.
var icd10cm = regexp.MustCompile(`^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$`)

// ValidDiagnosis reports whether code has the form of an ICD-10-CM code.
func ValidDiagnosis(code string) bool { return icd10cm.MatchString(code) }

var personID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// maxDiagnoses bounds the codes of one episode.
const maxDiagnoses = 12

// Episode is a patient's enrolment in remote monitoring.
type Episode struct {
	ID      string `json:"id"`
	Patient string `json:"patient"`
	// Start and End are dates of the patient's calendar; End is the last
	// day monitored, empty while the episode runs.
	Start             string   `json:"start"`
	End               string   `json:"end,omitempty"`
	OrderingClinician string   `json:"ordering_clinician"`
	Diagnoses         []string `json:"diagnoses"`
	// Management is the code the program bills the patient's
	// care-management time under: 99457 (default) or 99091.
	Management string `json:"management"`
	// SetupDate is when the device was set up and the patient educated
	// (99453), recorded once.
	SetupDate string    `json:"setup_date,omitempty"`
	SetupBy   string    `json:"setup_by,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Enrolment is what a clinician sends to start an episode.
type Enrolment struct {
	Start             string   `json:"start"`
	End               string   `json:"end,omitempty"`
	OrderingClinician string   `json:"ordering_clinician"`
	Diagnoses         []string `json:"diagnoses"`
	Management        string   `json:"management,omitempty"`
	SetupDate         string   `json:"setup_date,omitempty"`
	// TimeZone, when given, sets the patient's time zone (where they
	// live: their days with data are days there).
	TimeZone string `json:"time_zone,omitempty"`
}

// EpisodeChange ends an episode or records its set-up; each is recorded
// once.
type EpisodeChange struct {
	End       string `json:"end,omitempty"`
	SetupDate string `json:"setup_date,omitempty"`
}

// Program keeps episodes and time entries in the records database.
type Program struct {
	db  *sql.DB
	cfg Config
	now func() time.Time
}

// New returns the program over the records database.
func New(db *sql.DB, cfg Config) *Program { return &Program{db: db, cfg: cfg, now: time.Now} }

// SetClock replaces the program's clock (tests).
func (p *Program) SetClock(now func() time.Time) { p.now = now }

// latestToday is today's date where it is latest (UTC+14): a set-up
// dated today for a patient anywhere is not in the future.
func (p *Program) latestToday() string {
	return p.now().UTC().Add(14 * time.Hour).Format(time.DateOnly)
}

func newEpisodeID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return "ep-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// normalize checks an enrolment and returns its diagnoses upper-cased.
func (e *Enrolment) normalize() error {
	start, err := date("start", e.Start)
	if err != nil {
		return err
	}
	if e.End != "" {
		end, err := date("end", e.End)
		if err != nil {
			return err
		}
		if end.Before(start) {
			return fmt.Errorf("%w: end: on or after start", ErrInvalid)
		}
	}
	if !personID.MatchString(e.OrderingClinician) {
		return fmt.Errorf("%w: ordering_clinician: the clinician's user id", ErrInvalid)
	}
	if len(e.Diagnoses) == 0 || len(e.Diagnoses) > maxDiagnoses {
		return fmt.Errorf("%w: diagnoses: 1-%d ICD-10-CM codes", ErrInvalid, maxDiagnoses)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(e.Diagnoses))
	for _, d := range e.Diagnoses {
		d = strings.ToUpper(strings.TrimSpace(d))
		if len(d) > 8 || !ValidDiagnosis(d) {
			if len(d) > 8 {
				d = d[:8] + "…"
			}
			return fmt.Errorf("%w: diagnoses: %q is not an ICD-10-CM code (a letter, a digit, a digit or letter, then optionally a dot and up to 4 characters, e.g. I50.9)", ErrInvalid, d)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	e.Diagnoses = out
	switch e.Management {
	case "":
		e.Management = Manage99457
	case Manage99457, Manage99091:
	default:
		return fmt.Errorf("%w: management: 99457 (time in the month) or 99091 (30 minutes of interpretation)", ErrInvalid)
	}
	if e.SetupDate != "" {
		s, err := date("setup_date", e.SetupDate)
		if err != nil {
			return err
		}
		if s.Before(start) {
			return fmt.Errorf("%w: setup_date: on or after the episode's start", ErrInvalid)
		}
	}
	if e.TimeZone != "" && !ValidTimeZone(e.TimeZone) {
		return fmt.Errorf("%w: time_zone: an IANA time zone name such as America/Chicago", ErrInvalid)
	}
	return nil
}

// Enrol starts an episode for patient, recorded by by. An episode may not
// overlap another of the same patient.
func (p *Program) Enrol(ctx context.Context, patient, by string, e Enrolment) (Episode, error) {
	if err := e.normalize(); err != nil {
		return Episode{}, err
	}
	if e.SetupDate > p.latestToday() {
		return Episode{}, fmt.Errorf("%w: setup_date: not in the future", ErrInvalid)
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return Episode{}, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM patients WHERE id = ?`, patient).Scan(&n); err != nil {
		return Episode{}, fmt.Errorf("enrol: %w", err)
	}
	if n == 0 {
		return Episode{}, fmt.Errorf("patient: %w", ErrNotFound)
	}
	end := e.End
	if end == "" {
		end = "9999-12-31"
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM monitoring_episodes WHERE patient = ? AND start_date <= ?
		AND (end_date = '' OR end_date >= ?)`, patient, end, e.Start).Scan(&n); err != nil {
		return Episode{}, fmt.Errorf("enrol: %w", err)
	}
	if n > 0 {
		return Episode{}, fmt.Errorf("%w: the patient has a monitoring episode in these dates; end it first", ErrConflict)
	}
	ep := Episode{ID: newEpisodeID(), Patient: patient, Start: e.Start, End: e.End, OrderingClinician: e.OrderingClinician,
		Diagnoses: e.Diagnoses, Management: e.Management, SetupDate: e.SetupDate, CreatedBy: by, CreatedAt: p.now().UTC()}
	if ep.SetupDate != "" {
		ep.SetupBy = by
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO monitoring_episodes (id, patient, start_date, end_date, ordering_clinician,
		diagnoses, management, setup_date, setup_by, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		ep.ID, patient, ep.Start, ep.End, ep.OrderingClinician, strings.Join(ep.Diagnoses, ","), ep.Management, ep.SetupDate,
		ep.SetupBy, by, ep.CreatedAt.UnixMilli()); err != nil {
		return Episode{}, fmt.Errorf("enrol: %w", err)
	}
	if e.TimeZone != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET time_zone = ? WHERE id = ?`, e.TimeZone, patient); err != nil {
			return Episode{}, fmt.Errorf("enrol: %w", err)
		}
	}
	return ep, tx.Commit()
}

// Change ends an episode or records its device set-up. Each is recorded
// once: a second end or set-up is a conflict, not an overwrite.
func (p *Program) Change(ctx context.Context, patient, id, by string, c EpisodeChange) (Episode, error) {
	if c.End == "" && c.SetupDate == "" {
		return Episode{}, fmt.Errorf("%w: end or setup_date", ErrInvalid)
	}
	ep, err := p.Episode(ctx, patient, id)
	if err != nil {
		return Episode{}, err
	}
	start, _ := time.Parse(time.DateOnly, ep.Start)
	if c.End != "" {
		end, err := date("end", c.End)
		if err != nil {
			return Episode{}, err
		}
		if end.Before(start) {
			return Episode{}, fmt.Errorf("%w: end: on or after the episode's start %s", ErrInvalid, ep.Start)
		}
		if ep.End != "" {
			return Episode{}, fmt.Errorf("%w: the episode already ended on %s", ErrConflict, ep.End)
		}
	}
	if c.SetupDate != "" {
		s, err := date("setup_date", c.SetupDate)
		if err != nil {
			return Episode{}, err
		}
		if s.Before(start) || c.SetupDate > p.latestToday() {
			return Episode{}, fmt.Errorf("%w: setup_date: from the episode's start, not in the future", ErrInvalid)
		}
		if ep.SetupDate != "" {
			return Episode{}, fmt.Errorf("%w: the set-up (99453) is recorded once per episode, on %s", ErrConflict, ep.SetupDate)
		}
	}
	if c.End != "" {
		if _, err := p.db.ExecContext(ctx, `UPDATE monitoring_episodes SET end_date = ? WHERE id = ? AND end_date = ''`, c.End, id); err != nil {
			return Episode{}, fmt.Errorf("end episode: %w", err)
		}
	}
	if c.SetupDate != "" {
		if _, err := p.db.ExecContext(ctx, `UPDATE monitoring_episodes SET setup_date = ?, setup_by = ? WHERE id = ? AND setup_date = ''`,
			c.SetupDate, by, id); err != nil {
			return Episode{}, fmt.Errorf("record set-up: %w", err)
		}
	}
	return p.Episode(ctx, patient, id)
}

const episodeCols = `id, patient, start_date, end_date, ordering_clinician, diagnoses, management, setup_date, setup_by, created_by, created_at`

func scanEpisode(sc interface{ Scan(...any) error }) (Episode, error) {
	var e Episode
	var diag string
	var created int64
	if err := sc.Scan(&e.ID, &e.Patient, &e.Start, &e.End, &e.OrderingClinician, &diag, &e.Management, &e.SetupDate, &e.SetupBy,
		&e.CreatedBy, &created); err != nil {
		return e, err
	}
	e.Diagnoses = strings.Split(diag, ",")
	e.CreatedAt = time.UnixMilli(created).UTC()
	return e, nil
}

// Episode returns one episode of patient.
func (p *Program) Episode(ctx context.Context, patient, id string) (Episode, error) {
	e, err := scanEpisode(p.db.QueryRowContext(ctx, `SELECT `+episodeCols+` FROM monitoring_episodes WHERE id = ? AND patient = ?`, id, patient))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("episode: %w", ErrNotFound)
	}
	return e, err
}

// Episodes lists a patient's episodes, newest first.
func (p *Program) Episodes(ctx context.Context, patient string) ([]Episode, error) {
	rows, err := p.db.QueryContext(ctx, `SELECT `+episodeCols+` FROM monitoring_episodes WHERE patient = ? ORDER BY start_date DESC LIMIT 100`, patient)
	if err != nil {
		return nil, fmt.Errorf("list episodes: %w", err)
	}
	defer rows.Close()
	out := []Episode{}
	for rows.Next() {
		e, err := scanEpisode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
