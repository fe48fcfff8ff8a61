// Package chart owns the patient record: patients (identifiers,
// demographics, the NEWS2 SpO2 scale and oxygen they are charted on) and the
// care teams that bind clinicians to patients. Encounters and their
// observations, and the FHIR R4 mapping, come with telehealth visits.
//
// Names and birth dates are protected health information: they are never
// logged, and are read only through the access policy.
package chart

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// Errors of the chart.
var (
	// ErrNotFound: no such patient or care team.
	ErrNotFound = errors.New("not found")
	// ErrExists: the id (or MRN) is taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a field is missing or malformed; the message names it.
	ErrInvalid = errors.New("invalid")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// patientIDPattern is the FHIR id form (no "_"), since a patient's id is
// also the id of its FHIR Patient resource.
var patientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$`)

// Patient is a patient's record.
type Patient struct {
	ID  string `json:"id"`
	MRN string `json:"mrn"`
	// Name is the name as shown (FHIR's HumanName.text).
	Name string `json:"name"`
	// Family and Given are the name's parts, optional: set, they are
	// what FHIR gives as family and given names (given names in order).
	Family    string   `json:"family,omitempty"`
	Given     []string `json:"given,omitempty"`
	BirthDate string   `json:"birth_date"` // YYYY-MM-DD
	// Gender is the administrative gender: male, female, other, unknown,
	// or "" when not recorded.
	Gender    string `json:"gender,omitempty"`
	SpO2Scale int    `json:"spo2_scale"` // NEWS2 scale 1 or 2
	OnOxygen  bool   `json:"on_oxygen"`
	Notes     string `json:"notes,omitempty"` // e.g. the prescribed SpO2 target
	// TimeZone is where the patient lives (IANA name): their days with
	// data are days there. Empty: the clinic's.
	TimeZone  string    `json:"time_zone,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Bounds of a patient's name.
const (
	MaxName      = 200 // characters of the name as shown
	MaxNamePart  = 100 // characters of a family name or of one given name
	MaxGivenName = 5   // given names
)

// Genders are the administrative genders a record may hold (FHIR R4's
// AdministrativeGender value set).
var Genders = []string{"male", "female", "other", "unknown"}

func nameText(s string, max int) bool {
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && !strings.ContainsFunc(s, unicode.IsControl)
}

// Validate checks the record and names the bad field.
func (p *Patient) Validate() error {
	if err := p.validateNameGender(); err != nil {
		return err
	}
	switch {
	case !patientIDPattern.MatchString(p.ID):
		return fmt.Errorf("%w: id: 1-64 characters of A-Z a-z 0-9 . - (it is also the patient's FHIR id)", ErrInvalid)
	case strings.TrimSpace(p.MRN) == "":
		return fmt.Errorf("%w: mrn: required", ErrInvalid)
	case strings.TrimSpace(p.Name) == "":
		return fmt.Errorf("%w: name: required", ErrInvalid)
	case p.SpO2Scale != 1 && p.SpO2Scale != 2:
		return fmt.Errorf("%w: spo2_scale: 1 or 2", ErrInvalid)
	}
	if _, err := time.Parse("2006-01-02", p.BirthDate); err != nil {
		return fmt.Errorf("%w: birth_date: YYYY-MM-DD", ErrInvalid)
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" || len(p.TimeZone) > 64 {
			return fmt.Errorf("%w: time_zone: an IANA time zone name such as America/Chicago", ErrInvalid)
		}
	}
	return nil
}

func (p *Patient) validateNameGender() error {
	if !nameText(p.Name, MaxName) {
		return fmt.Errorf("%w: name: at most %d characters, no control characters", ErrInvalid, MaxName)
	}
	if !nameText(p.Family, MaxNamePart) || (p.Family != "" && strings.TrimSpace(p.Family) != p.Family) {
		return fmt.Errorf("%w: family: at most %d characters, no control characters, no leading or trailing space", ErrInvalid, MaxNamePart)
	}
	if len(p.Given) > MaxGivenName {
		return fmt.Errorf("%w: given: at most %d given names", ErrInvalid, MaxGivenName)
	}
	for _, g := range p.Given {
		if strings.TrimSpace(g) == "" || strings.TrimSpace(g) != g || !nameText(g, MaxNamePart) {
			return fmt.Errorf("%w: given: each given name 1-%d characters, no control characters, no leading or trailing space", ErrInvalid, MaxNamePart)
		}
	}
	if p.Gender != "" && !slices.Contains(Genders, p.Gender) {
		return fmt.Errorf("%w: gender: one of %s, or none", ErrInvalid, strings.Join(Genders, ", "))
	}
	return nil
}

// Team is a care team.
type Team struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Clinicians []string `json:"clinicians"`
	Patients   []string `json:"patients"`
	// Escalation lists the team's clinicians paged when an alert of one of
	// its patients is not acknowledged in time.
	Escalation []string `json:"escalation"`
}

// Chart keeps patients and care teams in the records database, with the
// team memberships in memory for the access policy's hot path.
type Chart struct {
	db  *sql.DB
	now func() time.Time
	mu  sync.RWMutex
	// care maps clinician -> patient -> number of shared teams.
	care map[string]map[string]int
	// teams maps care team -> its patients (a registered system's reach).
	teams map[string]map[string]bool
	// scoring holds what the rules need of each patient, in memory.
	scoring map[string]Scoring
	// onChange are told when care-team membership changes.
	onChange []func()
}

// OnMembershipChange calls f after every change of who is in a care team
// (a clinician or a patient added or removed), so that open live views
// are decided again at once.
func (c *Chart) OnMembershipChange(f func()) {
	c.mu.Lock()
	c.onChange = append(c.onChange, f)
	c.mu.Unlock()
}

// membershipChanged reindexes the care teams and tells the watchers.
func (c *Chart) membershipChanged(ctx context.Context) error {
	err := c.reindex(ctx)
	c.mu.RLock()
	fs := append([]func(){}, c.onChange...)
	c.mu.RUnlock()
	for _, f := range fs {
		f()
	}
	return err
}

// Scoring is what the rules engine needs of a patient's chart.
type Scoring struct {
	SpO2Scale     int
	OnOxygen      bool
	Consciousness string // ACVPU, "" until assessed
}

// Open loads the care-team index.
func Open(ctx context.Context, db *sql.DB) (*Chart, error) {
	c := &Chart{db: db, now: time.Now, scoring: map[string]Scoring{}}
	if err := c.reindex(ctx); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, spo2_scale, on_oxygen, consciousness FROM patients`)
	if err != nil {
		return nil, fmt.Errorf("load patients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sc Scoring
		if err := rows.Scan(&id, &sc.SpO2Scale, &sc.OnOxygen, &sc.Consciousness); err != nil {
			return nil, err
		}
		c.scoring[id] = sc
	}
	return c, rows.Err()
}

// ScoringOf returns what the rules need of a patient (scale 1, air, for a
// patient without a chart record).
func (c *Chart) ScoringOf(id string) Scoring {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if sc, ok := c.scoring[id]; ok {
		return sc
	}
	return Scoring{SpO2Scale: 1}
}

func (c *Chart) reindex(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, `SELECT a.member, b.member FROM care_team_members a
		JOIN care_team_members b ON a.team_id = b.team_id AND a.kind = 'clinician' AND b.kind = 'patient'`)
	if err != nil {
		return fmt.Errorf("load care teams: %w", err)
	}
	defer rows.Close()
	care := map[string]map[string]int{}
	for rows.Next() {
		var clin, pat string
		if err := rows.Scan(&clin, &pat); err != nil {
			return fmt.Errorf("load care teams: %w", err)
		}
		if care[clin] == nil {
			care[clin] = map[string]int{}
		}
		care[clin][pat]++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	teams := map[string]map[string]bool{}
	trows, err := c.db.QueryContext(ctx, `SELECT team_id, member FROM care_team_members WHERE kind = 'patient'`)
	if err != nil {
		return fmt.Errorf("load care teams: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var team, pat string
		if err := trows.Scan(&team, &pat); err != nil {
			return fmt.Errorf("load care teams: %w", err)
		}
		if teams[team] == nil {
			teams[team] = map[string]bool{}
		}
		teams[team][pat] = true
	}
	if err := trows.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.care, c.teams = care, teams
	c.mu.Unlock()
	return nil
}

// TeamHasPatient reports whether the patient is in the care team.
func (c *Chart) TeamHasPatient(team, patient string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.teams[team][patient]
}

// SetClinicianTeams makes the clinician a member of exactly the listed
// care teams that exist (single sign-on's care-team claim) and returns
// the teams joined; ids of no team are ignored. Escalation contacts of a
// team the clinician leaves are removed with the membership.
func (c *Chart) SetClinicianTeams(ctx context.Context, clinician string, teams []string) ([]string, error) {
	if !idPattern.MatchString(clinician) {
		return nil, fmt.Errorf("%w: member: 1-64 characters of A-Z a-z 0-9 . _ -", ErrInvalid)
	}
	existing, err := sqldb.Strings(ctx, c.db, `SELECT id FROM care_teams ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("set clinician teams: %w", err)
	}
	want := map[string]bool{}
	for _, t := range teams {
		want[t] = true
	}
	var joined []string
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("set clinician teams: %w", err)
	}
	defer tx.Rollback()
	for _, t := range existing {
		if want[t] {
			joined = append(joined, t)
			_, err = tx.ExecContext(ctx, `INSERT INTO care_team_members (team_id, member, kind) VALUES (?,?,'clinician') ON CONFLICT DO NOTHING`, t, clinician)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM care_team_members WHERE team_id = ? AND member = ? AND kind IN ('clinician', 'escalation')`, t, clinician)
		}
		if err != nil {
			return nil, fmt.Errorf("set clinician teams: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("set clinician teams: %w", err)
	}
	return joined, c.membershipChanged(ctx)
}

// ClinicianHasPatient reports whether the clinician is in a care team of
// the patient.
func (c *Chart) ClinicianHasPatient(clinician, patient string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.care[clinician][patient] > 0
}

// PatientsOf lists the patients of a clinician's care teams, sorted.
func (c *Chart) PatientsOf(clinician string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.care[clinician]))
	for p := range c.care[clinician] {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// AddPatient creates a patient record.
func (c *Chart) AddPatient(ctx context.Context, p Patient) (Patient, error) {
	if p.SpO2Scale == 0 {
		p.SpO2Scale = 1
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	p.CreatedAt = c.now().UTC()
	given := ""
	if len(p.Given) > 0 {
		b, _ := json.Marshal(p.Given)
		given = string(b)
	}
	_, err := c.db.ExecContext(ctx, `INSERT INTO patients (id, mrn, name, family, given, birth_date, gender, spo2_scale, on_oxygen, notes, time_zone, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, p.ID, p.MRN, p.Name, p.Family, given, p.BirthDate, p.Gender, p.SpO2Scale, p.OnOxygen, p.Notes, p.TimeZone, p.CreatedAt.UnixNano())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return p, fmt.Errorf("%w: a patient with this id or MRN", ErrExists)
		}
		return p, fmt.Errorf("add patient: %w", err)
	}
	c.mu.Lock()
	c.scoring[p.ID] = Scoring{SpO2Scale: p.SpO2Scale, OnOxygen: p.OnOxygen}
	c.mu.Unlock()
	return p, nil
}

// Patient returns a patient's record.
func (c *Chart) Patient(ctx context.Context, id string) (Patient, error) {
	var p Patient
	var created int64
	var given string
	err := c.db.QueryRowContext(ctx, `SELECT id, mrn, name, family, given, birth_date, gender, spo2_scale, on_oxygen, notes, time_zone, created_at FROM patients WHERE id = ?`, id).
		Scan(&p.ID, &p.MRN, &p.Name, &p.Family, &given, &p.BirthDate, &p.Gender, &p.SpO2Scale, &p.OnOxygen, &p.Notes, &p.TimeZone, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("read patient: %w", err)
	}
	if given != "" {
		if err := json.Unmarshal([]byte(given), &p.Given); err != nil {
			return p, fmt.Errorf("read patient %s: given names: %w", p.ID, err)
		}
	}
	p.CreatedAt = time.Unix(0, created).UTC()
	return p, nil
}

// PatientIDsWithPrefix lists the ids of the patients whose id starts
// with prefix (a FHIR Observation id of a long patient id keeps only the
// start of it), at most limit of them.
func (c *Chart) PatientIDsWithPrefix(ctx context.Context, prefix string, limit int) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM patients WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?`, len(prefix), prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("find patients: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Patients lists every patient, by id.
func (c *Chart) Patients(ctx context.Context) ([]Patient, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM patients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list patients: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []Patient{}
	for _, id := range ids {
		p, err := c.Patient(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// BillingIDs returns every patient's medical record number and time zone
// ("" for the clinic's), for a program's reports: no names, no birth
// dates.
func (c *Chart) BillingIDs(ctx context.Context) (map[string][2]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, mrn, time_zone FROM patients`)
	if err != nil {
		return nil, fmt.Errorf("billing ids: %w", err)
	}
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var id, mrn, tz string
		if err := rows.Scan(&id, &mrn, &tz); err != nil {
			return nil, fmt.Errorf("billing ids: %w", err)
		}
		out[id] = [2]string{mrn, tz}
	}
	return out, rows.Err()
}

// AddTeam creates a care team.
func (c *Chart) AddTeam(ctx context.Context, id, name string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: id: 1-64 characters of A-Z a-z 0-9 . _ -", ErrInvalid)
	}
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: name: required", ErrInvalid)
	}
	if _, err := c.db.ExecContext(ctx, `INSERT INTO care_teams (id, name) VALUES (?,?)`, id, name); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return fmt.Errorf("%w: care team %s", ErrExists, id)
		}
		return fmt.Errorf("add care team: %w", err)
	}
	return nil
}

// AddMember puts a clinician or a patient (kind) in a care team.
func (c *Chart) AddMember(ctx context.Context, team, kind, member string) error {
	if kind != "clinician" && kind != "patient" && kind != "escalation" {
		return fmt.Errorf("%w: kind: clinician, patient or escalation", ErrInvalid)
	}
	if !idPattern.MatchString(member) {
		return fmt.Errorf("%w: member: 1-64 characters of A-Z a-z 0-9 . _ -", ErrInvalid)
	}
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM care_teams WHERE id = ?`, team).Scan(&n); err != nil {
		return fmt.Errorf("add member: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("care team %s: %w", team, ErrNotFound)
	}
	if kind == "patient" {
		if _, err := c.Patient(ctx, member); err != nil {
			return fmt.Errorf("patient %s: %w", member, err)
		}
	}
	if kind == "escalation" {
		// A contact must be able to open what they are paged about.
		if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM care_team_members WHERE team_id = ? AND kind = 'clinician' AND member = ?`,
			team, member).Scan(&n); err != nil {
			return fmt.Errorf("add member: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("%w: member: an escalation contact must be a clinician of the team", ErrInvalid)
		}
	}
	if _, err := c.db.ExecContext(ctx, `INSERT INTO care_team_members (team_id, member, kind) VALUES (?,?,?) ON CONFLICT DO NOTHING`, team, member, kind); err != nil {
		return fmt.Errorf("add member: %w", err)
	}
	return c.membershipChanged(ctx)
}

// RemoveMember takes a member out of a care team (a clinician leaving
// stops being its escalation contact too).
func (c *Chart) RemoveMember(ctx context.Context, team, kind, member string) error {
	if _, err := c.db.ExecContext(ctx, `DELETE FROM care_team_members WHERE team_id = ? AND member = ? AND (kind = ? OR (? = 'clinician' AND kind = 'escalation'))`,
		team, member, kind, kind); err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	return c.membershipChanged(ctx)
}

// EscalationContacts lists the escalation contacts of every care team of
// a patient, sorted.
func (c *Chart) EscalationContacts(ctx context.Context, patient string) ([]string, error) {
	out, err := sqldb.Strings(ctx, c.db, `SELECT DISTINCT a.member FROM care_team_members a
		JOIN care_team_members b ON a.team_id = b.team_id AND a.kind = 'escalation' AND b.kind = 'patient'
		WHERE b.member = ? ORDER BY a.member`, patient)
	if err != nil {
		return nil, fmt.Errorf("escalation contacts: %w", err)
	}
	return out, nil
}

// Teams lists the care teams with their members.
func (c *Chart) Teams(ctx context.Context) ([]Team, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT t.id, t.name, m.kind, m.member FROM care_teams t
		LEFT JOIN care_team_members m ON m.team_id = t.id ORDER BY t.id, m.kind, m.member`)
	if err != nil {
		return nil, fmt.Errorf("list care teams: %w", err)
	}
	defer rows.Close()
	out := []Team{}
	for rows.Next() {
		var id, name string
		var kind, member sql.NullString
		if err := rows.Scan(&id, &name, &kind, &member); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, Team{ID: id, Name: name, Clinicians: []string{}, Patients: []string{}, Escalation: []string{}})
		}
		t := &out[len(out)-1]
		switch kind.String {
		case "clinician":
			t.Clinicians = append(t.Clinicians, member.String)
		case "patient":
			t.Patients = append(t.Patients, member.String)
		case "escalation":
			t.Escalation = append(t.Escalation, member.String)
		}
	}
	return out, rows.Err()
}

// Assessment is what a clinician records at the bedside or in a visit.
type Assessment struct {
	// Consciousness on the ACVPU scale: alert, confusion (new), voice,
	// pain, unresponsive.
	Consciousness string `json:"consciousness"`
	OnOxygen      bool   `json:"on_oxygen"`
}

var acvpu = map[string]bool{"alert": true, "confusion": true, "voice": true, "pain": true, "unresponsive": true}

// Assess records a clinician's assessment of a patient; NEWS2 uses it from
// the next reading on.
func (c *Chart) Assess(ctx context.Context, patient, by string, a Assessment, at time.Time) error {
	if !acvpu[a.Consciousness] {
		return fmt.Errorf("%w: consciousness: alert, confusion, voice, pain or unresponsive", ErrInvalid)
	}
	res, err := c.db.ExecContext(ctx, `UPDATE patients SET consciousness = ?, on_oxygen = ?, assessed_by = ?, assessed_at = ? WHERE id = ?`,
		a.Consciousness, a.OnOxygen, by, at.UnixNano(), patient)
	if err != nil {
		return fmt.Errorf("assess: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	c.mu.Lock()
	sc := c.scoring[patient]
	sc.OnOxygen, sc.Consciousness = a.OnOxygen, a.Consciousness
	c.scoring[patient] = sc
	c.mu.Unlock()
	return nil
}
