package chart

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Encounter is what a telehealth visit leaves in the chart: its period and
// participants, a summary of every vital over the visit and a look-back
// before it, the alerts raised in that window, and the clinician's note.
// The raw readings of the window stay in the time-series store and are
// served as FHIR Observations on the fly.
//
// An Encounter attached before its visit ends follows the visit: each
// attach or the end that changes it stores a new Version, every version
// is kept (History), and a finished Encounter does not change again.
type Encounter struct {
	ID      string `json:"id"` // the visit's id
	Patient string `json:"patient"`
	// Status is the FHIR Encounter status: planned, arrived, in-progress
	// or finished ("" in records written before statuses: finished).
	Status       string                 `json:"status,omitempty"`
	Version      int                    `json:"version"`
	Start        time.Time              `json:"start"`
	End          time.Time              `json:"end,omitzero"` // zero until the visit ends
	WindowStart  time.Time              `json:"window_start"` // Start minus the look-back
	Participants []EncounterParticipant `json:"participants"`
	Summaries    []VitalSummary         `json:"summaries"`
	Alerts       []EncounterAlert       `json:"alerts"`
	Note         string                 `json:"note,omitempty"`
	// Chat is the visit's text chat, in the order it was sent.
	Chat []EncounterMessage `json:"chat,omitempty"`
	// AttachedAt is when the first version was attached, UpdatedAt when
	// this one was.
	AttachedAt time.Time `json:"attached_at"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

// Encounter statuses (FHIR R4 EncounterStatus).
const (
	EncounterPlanned    = "planned"
	EncounterArrived    = "arrived" // someone is in the waiting room
	EncounterInProgress = "in-progress"
	EncounterFinished   = "finished"
)

// Final reports whether the Encounter is finished and no longer changes.
func (e Encounter) Final() bool { return e.Status == "" || e.Status == EncounterFinished }

// EncounterParticipant is one person's time in the visit.
type EncounterParticipant struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// EncounterMessage is one chat message of the visit.
type EncounterMessage struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
}

// VitalSummary summarizes one vital over the encounter's window.
type VitalSummary struct {
	Type     string    `json:"type"`
	Unit     string    `json:"unit"`
	Count    int64     `json:"count"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	Mean     float64   `json:"mean"`
	Last     float64   `json:"last"`
	LastDia  *float64  `json:"last_diastolic,omitempty"`
	LastTime time.Time `json:"last_time"`
}

// EncounterAlert is an alert raised in the window.
type EncounterAlert struct {
	ID       int64     `json:"id"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	FiredAt  time.Time `json:"fired_at"`
	Value    float64   `json:"value"`
	State    string    `json:"state"`
}

// Encounters stores encounters in the records database.
type Encounters struct{ db *sql.DB }

// NewEncounters returns the encounter store.
func NewEncounters(db *sql.DB) *Encounters { return &Encounters{db: db} }

// Attach records a visit's Encounter: the first attach stores version 1;
// while the stored one is not final, a different one is stored as the
// next version (the same content changes nothing); a final one stays as
// it is. It returns the stored Encounter and whether it changed.
func (e *Encounters) Attach(ctx context.Context, enc Encounter) (Encounter, bool, error) {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	}
	defer tx.Rollback()
	cur, err := e.get(ctx, tx, enc.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		enc.Version = 1
		if enc.UpdatedAt.IsZero() {
			enc.UpdatedAt = enc.AttachedAt
		}
	case err != nil:
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	case cur.Final() || sameContent(cur, enc):
		return cur, false, nil
	default:
		enc.Version, enc.AttachedAt = cur.Version+1, cur.AttachedAt
		if enc.UpdatedAt.IsZero() {
			enc.UpdatedAt = time.Now().UTC()
		}
	}
	body, err := json.Marshal(enc)
	if err != nil {
		return Encounter{}, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO encounters (visit, patient, body, created_at, version) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit) DO UPDATE SET body = excluded.body, version = excluded.version`,
		enc.ID, enc.Patient, string(body), enc.AttachedAt.UnixMilli(), enc.Version); err != nil {
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO encounter_versions (visit, version, body, created_at) VALUES (?, ?, ?, ?)`,
		enc.ID, enc.Version, string(body), enc.UpdatedAt.UnixMilli()); err != nil {
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	}
	return enc, true, nil
}

// sameContent compares two versions but for their version and times.
func sameContent(a, b Encounter) bool {
	a.Version, a.AttachedAt, a.UpdatedAt = 0, time.Time{}, time.Time{}
	b.Version, b.AttachedAt, b.UpdatedAt = 0, time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Get loads the current version of an encounter by its visit id.
func (e *Encounters) Get(ctx context.Context, id string) (Encounter, error) {
	return e.get(ctx, e.db, id)
}

func (e *Encounters) get(ctx context.Context, q querier, id string) (Encounter, error) {
	var body string
	var version int
	err := q.QueryRowContext(ctx, `SELECT body, version FROM encounters WHERE visit = ?`, id).Scan(&body, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return Encounter{}, ErrNotFound
	}
	if err != nil {
		return Encounter{}, err
	}
	return decodeVersion(body, version)
}

func decodeVersion(body string, version int) (Encounter, error) {
	var enc Encounter
	if err := json.Unmarshal([]byte(body), &enc); err != nil {
		return Encounter{}, err
	}
	enc.Version = version
	if enc.UpdatedAt.IsZero() {
		enc.UpdatedAt = enc.AttachedAt
	}
	return enc, nil
}

// Version loads one version of an encounter.
func (e *Encounters) Version(ctx context.Context, id string, version int) (Encounter, error) {
	var body string
	err := e.db.QueryRowContext(ctx, `SELECT body FROM encounter_versions WHERE visit = ? AND version = ?`, id, version).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Encounter{}, ErrNotFound
	}
	if err != nil {
		return Encounter{}, err
	}
	return decodeVersion(body, version)
}

// History lists every version of an encounter, newest first.
func (e *Encounters) History(ctx context.Context, id string) ([]Encounter, error) {
	out, err := e.query(ctx, `SELECT body, version FROM encounter_versions WHERE visit = ? ORDER BY version DESC`, id)
	if err == nil && len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, err
}

// ForPatient lists a patient's encounters, newest first.
func (e *Encounters) ForPatient(ctx context.Context, patient string) ([]Encounter, error) {
	return e.query(ctx, `SELECT body, version FROM encounters WHERE patient = ? ORDER BY created_at DESC LIMIT 500`, patient)
}

// query reads encounters (body, version) in the order the query gives.
func (e *Encounters) query(ctx context.Context, query string, args ...any) ([]Encounter, error) {
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Encounter{}
	for rows.Next() {
		var body string
		var version int
		if err := rows.Scan(&body, &version); err != nil {
			return nil, err
		}
		enc, err := decodeVersion(body, version)
		if err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, rows.Err()
}
