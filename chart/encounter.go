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
type Encounter struct {
	ID           string                 `json:"id"` // the visit's id
	Patient      string                 `json:"patient"`
	Start        time.Time              `json:"start"`
	End          time.Time              `json:"end"`
	WindowStart  time.Time              `json:"window_start"` // Start minus the look-back
	Participants []EncounterParticipant `json:"participants"`
	Summaries    []VitalSummary         `json:"summaries"`
	Alerts       []EncounterAlert       `json:"alerts"`
	Note         string                 `json:"note,omitempty"`
	AttachedAt   time.Time              `json:"attached_at"`
}

// EncounterParticipant is one person's time in the visit.
type EncounterParticipant struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
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

// Attach stores an encounter unless the visit has one already, and returns
// the stored one: attaching twice changes nothing.
func (e *Encounters) Attach(ctx context.Context, enc Encounter) (Encounter, bool, error) {
	body, err := json.Marshal(enc)
	if err != nil {
		return Encounter{}, false, err
	}
	res, err := e.db.ExecContext(ctx, `INSERT INTO encounters (visit, patient, body, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (visit) DO NOTHING`, enc.ID, enc.Patient, string(body), enc.AttachedAt.UnixMilli())
	if err != nil {
		return Encounter{}, false, fmt.Errorf("attach encounter: %w", err)
	}
	n, _ := res.RowsAffected()
	got, err := e.Get(ctx, enc.ID)
	return got, n == 1, err
}

// Get loads an encounter by its visit id.
func (e *Encounters) Get(ctx context.Context, id string) (Encounter, error) {
	var body string
	err := e.db.QueryRowContext(ctx, `SELECT body FROM encounters WHERE visit = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Encounter{}, ErrNotFound
	}
	if err != nil {
		return Encounter{}, err
	}
	var enc Encounter
	return enc, json.Unmarshal([]byte(body), &enc)
}

// ForPatient lists a patient's encounters, newest first.
func (e *Encounters) ForPatient(ctx context.Context, patient string) ([]Encounter, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT body FROM encounters WHERE patient = ? ORDER BY created_at DESC LIMIT 500`, patient)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Encounter{}
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var enc Encounter
		if err := json.Unmarshal([]byte(body), &enc); err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, rows.Err()
}
