package chart_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

// openRecords opens a fresh records database.
func openRecords(t *testing.T) *sql.DB {
	t.Helper()
	db, err := testenv.Records(t).Open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func openChart(t *testing.T, db *sql.DB) *chart.Chart {
	t.Helper()
	c, err := chart.Open(context.Background(), db)
	require.NoError(t, err)
	return c
}

// patient is a valid record; each test changes what it needs.
func patient(id, mrn string) chart.Patient {
	return chart.Patient{ID: id, MRN: mrn, Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1}
}

// fhirID is the FHIR R4 id datatype: 1-64 of A-Z a-z 0-9 - and '.'.
var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

func TestAPatientRecordIsRefusedNamingTheBadField(t *testing.T) {
	t.Run("a complete record is valid", func(t *testing.T) {
		p := patient("ward3-bed12", "MRN-1")
		require.NoError(t, p.Validate())
		p = chart.Patient{ID: "p.1", MRN: "m", Name: "n", BirthDate: "2000-01-01", SpO2Scale: 2}
		require.NoError(t, p.Validate())
	})
	for _, tc := range []struct {
		name  string
		edit  func(*chart.Patient)
		field string
	}{
		{"an id with an underscore, which a FHIR id cannot hold", func(p *chart.Patient) { p.ID = "bed_12" }, "id:"},
		{"an id starting with a dash", func(p *chart.Patient) { p.ID = "-p1" }, "id:"},
		{"an id longer than a FHIR id", func(p *chart.Patient) { p.ID = strings.Repeat("a", 65) }, "id:"},
		{"an id with a slash", func(p *chart.Patient) { p.ID = "ward/12" }, "id:"},
		{"an empty id", func(p *chart.Patient) { p.ID = "" }, "id:"},
		{"a blank MRN", func(p *chart.Patient) { p.MRN = " " }, "mrn:"},
		{"no name", func(p *chart.Patient) { p.Name = "" }, "name:"},
		{"a SpO2 scale NEWS2 does not have", func(p *chart.Patient) { p.SpO2Scale = 3 }, "spo2_scale:"},
		{"a birth date not in YYYY-MM-DD", func(p *chart.Patient) { p.BirthDate = "10/12/1950" }, "birth_date:"},
		{"a birth date that is no day", func(p *chart.Patient) { p.BirthDate = "1950-02-30" }, "birth_date:"},
		{"no birth date", func(p *chart.Patient) { p.BirthDate = "" }, "birth_date:"},
		{"a name past 200 characters", func(p *chart.Patient) { p.Name = strings.Repeat("a", 201) }, "name:"},
		{"a name with a line break", func(p *chart.Patient) { p.Name = "Ada\nLovelace" }, "name:"},
		{"a gender outside FHIR's administrative genders", func(p *chart.Patient) { p.Gender = "F" }, "gender:"},
		{"a family name past 100 characters", func(p *chart.Patient) { p.Family = strings.Repeat("é", 101) }, "family:"},
		{"a family name with a tab", func(p *chart.Patient) { p.Family = "Love\tlace" }, "family:"},
		{"a family name with a trailing space", func(p *chart.Patient) { p.Family = "Lovelace " }, "family:"},
		{"an empty given name", func(p *chart.Patient) { p.Given = []string{"Ada", ""} }, "given:"},
		{"a given name past 100 characters", func(p *chart.Patient) { p.Given = []string{strings.Repeat("a", 101)} }, "given:"},
		{"more than five given names", func(p *chart.Patient) { p.Given = []string{"a", "b", "c", "d", "e", "f"} }, "given:"},
		{"a given name that is not UTF-8", func(p *chart.Patient) { p.Given = []string{"\xff"} }, "given:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := patient("ward3-bed12", "MRN-1")
			tc.edit(&p)
			err := p.Validate()
			require.ErrorIs(t, err, chart.ErrInvalid)
			require.Contains(t, err.Error(), tc.field)

			c := openChart(t, openRecords(t))
			_, err = c.AddPatient(context.Background(), p)
			require.ErrorIs(t, err, chart.ErrInvalid)
			require.Contains(t, err.Error(), tc.field)
			_, err = c.Patient(context.Background(), p.ID)
			require.ErrorIs(t, err, chart.ErrNotFound, "nothing was stored")
		})
	}
}

func TestAPatientsGenderAndNamePartsAreKept(t *testing.T) {
	ctx := context.Background()
	c := openChart(t, openRecords(t))
	t.Run("gender, family and given names read back as added", func(t *testing.T) {
		p := patient("p1", "MRN-1")
		p.Name, p.Family, p.Given, p.Gender = "Nguyễn Văn An", "Nguyễn", []string{"Văn", "An"}, "male"
		added, err := c.AddPatient(ctx, p)
		require.NoError(t, err)
		got, err := c.Patient(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, added, got)
		require.Equal(t, "Nguyễn", got.Family)
		require.Equal(t, []string{"Văn", "An"}, got.Given)
		require.Equal(t, "male", got.Gender)
	})
	t.Run("a record without them reads back without them", func(t *testing.T) {
		_, err := c.AddPatient(ctx, patient("p2", "MRN-2"))
		require.NoError(t, err)
		got, err := c.Patient(ctx, "p2")
		require.NoError(t, err)
		require.Empty(t, got.Family)
		require.Nil(t, got.Given)
		require.Empty(t, got.Gender)
	})
	for _, g := range chart.Genders {
		t.Run("gender "+g+" is accepted", func(t *testing.T) {
			p := patient("g-"+g, "MRN-"+g)
			p.Gender = g
			_, err := c.AddPatient(ctx, p)
			require.NoError(t, err)
		})
	}
}

func TestAPatientIDIsAFHIRID(t *testing.T) {
	c := openChart(t, openRecords(t))
	for i, id := range []string{"p1", "ward3-bed12", "a.b-C9", "0", strings.Repeat("z", 64)} {
		t.Run(fmt.Sprintf("the id %.12s is accepted and is a FHIR id", id), func(t *testing.T) {
			_, err := c.AddPatient(context.Background(), patient(id, fmt.Sprint("MRN-", i)))
			require.NoError(t, err)
			require.Regexp(t, fhirID, id)
		})
	}
}

func TestAddPatient(t *testing.T) {
	ctx := context.Background()
	db := openRecords(t)
	c := openChart(t, db)

	before := time.Now().UTC()
	in := chart.Patient{ID: "p2", MRN: "MRN-2", Name: "Grace Hopper", BirthDate: "1906-12-09", OnOxygen: true, Notes: "target 88-92%", SpO2Scale: 2}
	added, err := c.AddPatient(ctx, in)
	require.NoError(t, err)
	_, err = c.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "MRN-1", Name: "Ada Lovelace", BirthDate: "1950-12-10"})
	require.NoError(t, err)

	t.Run("the stored record reads back as added", func(t *testing.T) {
		got, err := c.Patient(ctx, "p2")
		require.NoError(t, err)
		require.Equal(t, added, got)
		require.Equal(t, "Grace Hopper", got.Name)
		require.Equal(t, 2, got.SpO2Scale)
		require.True(t, got.OnOxygen)
		require.Equal(t, "target 88-92%", got.Notes)
		require.False(t, got.CreatedAt.Before(before))
		require.Equal(t, time.UTC, got.CreatedAt.Location())
	})
	t.Run("a patient without a scale is charted on NEWS2 scale 1", func(t *testing.T) {
		got, err := c.Patient(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, 1, got.SpO2Scale)
	})
	t.Run("patients are listed by id", func(t *testing.T) {
		all, err := c.Patients(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "p1", all[0].ID)
		require.Equal(t, "p2", all[1].ID)
	})
	t.Run("an unknown patient is not found", func(t *testing.T) {
		_, err := c.Patient(ctx, "p9")
		require.ErrorIs(t, err, chart.ErrNotFound)
	})
	for _, tc := range []struct {
		name string
		p    chart.Patient
	}{
		{"a second patient with the same id is refused", patient("p1", "MRN-other")},
		{"a second patient with the same MRN is refused", patient("p3", "MRN-1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AddPatient(ctx, tc.p)
			require.ErrorIs(t, err, chart.ErrExists)
			got, err := c.Patient(ctx, "p1")
			require.NoError(t, err)
			require.Equal(t, "MRN-1", got.MRN, "the first record is unchanged")
		})
	}
	t.Run("the records outlive the chart", func(t *testing.T) {
		again := openChart(t, db)
		got, err := again.Patient(ctx, "p2")
		require.NoError(t, err)
		require.Equal(t, added, got)
	})
}

func TestCareTeams(t *testing.T) {
	ctx := context.Background()
	db := openRecords(t)
	c := openChart(t, db)
	for _, id := range []string{"p1", "p2", "p3"} {
		_, err := c.AddPatient(ctx, patient(id, "MRN-"+id))
		require.NoError(t, err)
	}
	require.NoError(t, c.AddTeam(ctx, "ward3", "Ward 3"))
	require.NoError(t, c.AddTeam(ctx, "cardio", "Heart failure clinic"))

	t.Run("a team is refused naming the bad field", func(t *testing.T) {
		for _, tc := range []struct{ id, name, field string }{
			{"", "Ward", "id:"},
			{"ward/4", "Ward", "id:"},
			{"ward4", " ", "name:"},
		} {
			err := c.AddTeam(ctx, tc.id, tc.name)
			require.ErrorIs(t, err, chart.ErrInvalid)
			require.Contains(t, err.Error(), tc.field)
		}
	})
	t.Run("a team id is taken once", func(t *testing.T) {
		require.ErrorIs(t, c.AddTeam(ctx, "ward3", "Another"), chart.ErrExists)
	})
	t.Run("a member is refused naming the bad field", func(t *testing.T) {
		err := c.AddMember(ctx, "ward3", "nurse", "n1")
		require.ErrorIs(t, err, chart.ErrInvalid)
		require.Contains(t, err.Error(), "kind:")
		err = c.AddMember(ctx, "ward3", "clinician", "dr a")
		require.ErrorIs(t, err, chart.ErrInvalid)
		require.Contains(t, err.Error(), "member:")
	})
	t.Run("a member of an unknown team is not found", func(t *testing.T) {
		require.ErrorIs(t, c.AddMember(ctx, "ward9", "clinician", "dr-a"), chart.ErrNotFound)
	})
	t.Run("a patient without a chart cannot join a team", func(t *testing.T) {
		require.ErrorIs(t, c.AddMember(ctx, "ward3", "patient", "p9"), chart.ErrNotFound)
		require.False(t, c.ClinicianHasPatient("dr-a", "p9"))
	})
	t.Run("a clinician has the patients of their teams", func(t *testing.T) {
		require.NoError(t, c.AddMember(ctx, "ward3", "clinician", "dr-a"))
		require.NoError(t, c.AddMember(ctx, "ward3", "patient", "p2"))
		require.NoError(t, c.AddMember(ctx, "ward3", "patient", "p1"))
		require.NoError(t, c.AddMember(ctx, "cardio", "clinician", "dr-b"))
		require.NoError(t, c.AddMember(ctx, "cardio", "patient", "p3"))

		require.True(t, c.ClinicianHasPatient("dr-a", "p1"))
		require.True(t, c.ClinicianHasPatient("dr-a", "p2"))
		require.False(t, c.ClinicianHasPatient("dr-a", "p3"), "p3 is in another team")
		require.Equal(t, []string{"p1", "p2"}, c.PatientsOf("dr-a"), "sorted")
		require.Equal(t, []string{"p3"}, c.PatientsOf("dr-b"))
	})
	t.Run("someone in no team has no patients", func(t *testing.T) {
		require.Empty(t, c.PatientsOf("dr-z"))
		require.NotNil(t, c.PatientsOf("dr-z"))
		require.False(t, c.ClinicianHasPatient("dr-z", "p1"))
		require.False(t, c.ClinicianHasPatient("p1", "p1"), "a patient member is not a clinician")
	})
	t.Run("adding a member twice changes nothing", func(t *testing.T) {
		require.NoError(t, c.AddMember(ctx, "ward3", "patient", "p1"))
		teams, err := c.Teams(ctx)
		require.NoError(t, err)
		require.Equal(t, []chart.Team{
			{ID: "cardio", Name: "Heart failure clinic", Clinicians: []string{"dr-b"}, Patients: []string{"p3"}, Escalation: []string{}},
			{ID: "ward3", Name: "Ward 3", Clinicians: []string{"dr-a"}, Patients: []string{"p1", "p2"}, Escalation: []string{}},
		}, teams)
	})
	t.Run("a patient shared by two teams stays with the clinician until both are left", func(t *testing.T) {
		require.NoError(t, c.AddMember(ctx, "cardio", "clinician", "dr-a"))
		require.NoError(t, c.AddMember(ctx, "cardio", "patient", "p1"))
		require.NoError(t, c.RemoveMember(ctx, "ward3", "patient", "p1"))
		require.True(t, c.ClinicianHasPatient("dr-a", "p1"), "still shared through cardio")
		require.Equal(t, []string{"p1", "p2", "p3"}, c.PatientsOf("dr-a"))

		require.NoError(t, c.RemoveMember(ctx, "cardio", "clinician", "dr-a"))
		require.False(t, c.ClinicianHasPatient("dr-a", "p1"))
		require.False(t, c.ClinicianHasPatient("dr-a", "p3"))
		require.Equal(t, []string{"p2"}, c.PatientsOf("dr-a"))
		require.True(t, c.ClinicianHasPatient("dr-b", "p1"), "the team's other clinician keeps the patient")
	})
	t.Run("a reopened chart knows the same memberships", func(t *testing.T) {
		again := openChart(t, db)
		for _, clin := range []string{"dr-a", "dr-b"} {
			require.Equal(t, c.PatientsOf(clin), again.PatientsOf(clin), clin)
		}
	})
}

func TestEscalationContacts(t *testing.T) {
	ctx := context.Background()
	c := openChart(t, openRecords(t))
	for _, id := range []string{"p1", "p2"} {
		_, err := c.AddPatient(ctx, patient(id, "MRN-"+id))
		require.NoError(t, err)
	}
	for _, team := range []string{"ward3", "cardio"} {
		require.NoError(t, c.AddTeam(ctx, team, team))
	}
	for _, m := range [][3]string{
		{"ward3", "clinician", "dr-c"}, {"ward3", "clinician", "dr-a"}, {"ward3", "patient", "p1"},
		{"cardio", "clinician", "dr-a"}, {"cardio", "clinician", "dr-b"}, {"cardio", "patient", "p1"}, {"cardio", "patient", "p2"},
	} {
		require.NoError(t, c.AddMember(ctx, m[0], m[1], m[2]))
	}

	t.Run("a patient with no contacts has none", func(t *testing.T) {
		got, err := c.EscalationContacts(ctx, "p1")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("a contact must be a clinician of the team", func(t *testing.T) {
		err := c.AddMember(ctx, "ward3", "escalation", "dr-b")
		require.ErrorIs(t, err, chart.ErrInvalid)
		require.Contains(t, err.Error(), "member:")
	})
	t.Run("the contacts of every team of the patient are listed once, sorted", func(t *testing.T) {
		require.NoError(t, c.AddMember(ctx, "ward3", "escalation", "dr-c"))
		require.NoError(t, c.AddMember(ctx, "ward3", "escalation", "dr-a"))
		require.NoError(t, c.AddMember(ctx, "cardio", "escalation", "dr-a"))
		require.NoError(t, c.AddMember(ctx, "cardio", "escalation", "dr-b"))

		got, err := c.EscalationContacts(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, []string{"dr-a", "dr-b", "dr-c"}, got)
		got, err = c.EscalationContacts(ctx, "p2")
		require.NoError(t, err)
		require.Equal(t, []string{"dr-a", "dr-b"}, got, "p2 is not in ward3")
	})
	t.Run("an escalation contact alone gives no access to a patient", func(t *testing.T) {
		require.NoError(t, c.RemoveMember(ctx, "cardio", "escalation", "dr-b"))
		require.True(t, c.ClinicianHasPatient("dr-b", "p2"), "removing the contact keeps the clinician")
		got, err := c.EscalationContacts(ctx, "p2")
		require.NoError(t, err)
		require.Equal(t, []string{"dr-a"}, got)
	})
	t.Run("a clinician leaving a team stops being its contact", func(t *testing.T) {
		require.NoError(t, c.RemoveMember(ctx, "ward3", "clinician", "dr-c"))
		got, err := c.EscalationContacts(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, []string{"dr-a"}, got)
		teams, err := c.Teams(ctx)
		require.NoError(t, err)
		for _, tm := range teams {
			require.NotContains(t, tm.Escalation, "dr-c", tm.ID)
		}
	})
}

func TestAssessmentAndScoring(t *testing.T) {
	ctx := context.Background()
	db := openRecords(t)
	c := openChart(t, db)
	scale2 := patient("copd-1", "MRN-2")
	scale2.SpO2Scale = 2
	scale2.OnOxygen = true
	for _, p := range []chart.Patient{patient("p1", "MRN-1"), scale2} {
		_, err := c.AddPatient(ctx, p)
		require.NoError(t, err)
	}
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

	t.Run("a patient without a chart is scored on scale 1, on air, unassessed", func(t *testing.T) {
		require.Equal(t, chart.Scoring{SpO2Scale: 1}, c.ScoringOf("nobody"))
	})
	t.Run("a new patient is scored on their charted scale and oxygen", func(t *testing.T) {
		require.Equal(t, chart.Scoring{SpO2Scale: 1}, c.ScoringOf("p1"))
		require.Equal(t, chart.Scoring{SpO2Scale: 2, OnOxygen: true}, c.ScoringOf("copd-1"))
	})
	for _, tc := range []struct {
		name string
		a    chart.Assessment
		want chart.Scoring
	}{
		{"a new confusion on oxygen is scored from then on", chart.Assessment{Consciousness: "confusion", OnOxygen: true},
			chart.Scoring{SpO2Scale: 1, OnOxygen: true, Consciousness: "confusion"}},
		{"a later assessment replaces the earlier one", chart.Assessment{Consciousness: "alert"},
			chart.Scoring{SpO2Scale: 1, Consciousness: "alert"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, c.Assess(ctx, "p1", "dr-a", tc.a, at))
			require.Equal(t, tc.want, c.ScoringOf("p1"))
			got, err := c.Patient(ctx, "p1")
			require.NoError(t, err)
			require.Equal(t, tc.want.OnOxygen, got.OnOxygen, "the chart shows the oxygen too")
		})
	}
	t.Run("an assessment keeps the patient's scale", func(t *testing.T) {
		require.NoError(t, c.Assess(ctx, "copd-1", "dr-a", chart.Assessment{Consciousness: "voice"}, at))
		require.Equal(t, chart.Scoring{SpO2Scale: 2, OnOxygen: false, Consciousness: "voice"}, c.ScoringOf("copd-1"))
	})
	t.Run("every ACVPU level is accepted", func(t *testing.T) {
		for _, level := range []string{"alert", "confusion", "voice", "pain", "unresponsive"} {
			require.NoError(t, c.Assess(ctx, "p1", "dr-a", chart.Assessment{Consciousness: level}, at), level)
			require.Equal(t, level, c.ScoringOf("p1").Consciousness)
		}
	})
	t.Run("a level outside ACVPU is refused naming consciousness", func(t *testing.T) {
		for _, level := range []string{"", "Alert", "drowsy"} {
			err := c.Assess(ctx, "p1", "dr-a", chart.Assessment{Consciousness: level}, at)
			require.ErrorIs(t, err, chart.ErrInvalid, level)
			require.Contains(t, err.Error(), "consciousness:")
		}
		require.Equal(t, "unresponsive", c.ScoringOf("p1").Consciousness, "unchanged")
	})
	t.Run("assessing a patient without a chart is not found and scores nothing", func(t *testing.T) {
		err := c.Assess(ctx, "nobody", "dr-a", chart.Assessment{Consciousness: "pain", OnOxygen: true}, at)
		require.ErrorIs(t, err, chart.ErrNotFound)
		require.Equal(t, chart.Scoring{SpO2Scale: 1}, c.ScoringOf("nobody"))
	})
	t.Run("a reopened chart scores as before", func(t *testing.T) {
		again := openChart(t, db)
		for _, id := range []string{"p1", "copd-1"} {
			require.Equal(t, c.ScoringOf(id), again.ScoringOf(id), id)
		}
	})
}

func TestMembershipChangesAreAnnounced(t *testing.T) {
	ctx := context.Background()
	c := openChart(t, openRecords(t))
	_, err := c.AddPatient(ctx, chart.Patient{ID: "p1", MRN: "M1", Name: "A", BirthDate: "1970-01-01"})
	require.NoError(t, err)
	require.NoError(t, c.AddTeam(ctx, "ward", "Ward"))
	var seen []bool
	c.OnMembershipChange(func() { seen = append(seen, c.ClinicianHasPatient("doc", "p1")) })
	require.NoError(t, c.AddMember(ctx, "ward", "clinician", "doc"))
	require.NoError(t, c.AddMember(ctx, "ward", "patient", "p1"))
	require.NoError(t, c.RemoveMember(ctx, "ward", "patient", "p1"))
	require.Equal(t, []bool{false, true, false}, seen, "told after each change, with the index already updated")
}
