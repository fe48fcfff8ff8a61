package fhir_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/fhir"
	"github.com/vitalwire/vitalwire/vitals"
)

// The expectations below are written from FHIR R4 (the vital-signs profile,
// the JSON format, the data types) and /work/shared/DOMAIN.md, not from the
// mapping's own output.
const (
	loinc       = "http://loinc.org"
	ucum        = "http://unitsofmeasure.org"
	obsCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	vitalSigns  = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	v3ActCode   = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	v3PartType  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	xhtmlNS     = "http://www.w3.org/1999/xhtml"
)

var (
	// fhirID is the R4 id datatype.
	fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	// fhirDateTime is the R4 dateTime datatype, here with a time, which
	// then needs a zone.
	fhirDateTime = regexp.MustCompile(`^-?[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
)

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type concept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

func (c concept) codes(system string) []string {
	var out []string
	for _, cd := range c.Coding {
		if cd.System == system {
			out = append(out, cd.Code)
		}
	}
	return out
}

type quantity struct {
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	System string   `json:"system"`
	Code   string   `json:"code"`
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type observation struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         struct {
		Profile []string `json:"profile"`
	} `json:"meta"`
	Status            string     `json:"status"`
	Category          []concept  `json:"category"`
	Code              concept    `json:"code"`
	Subject           reference  `json:"subject"`
	Encounter         *reference `json:"encounter"`
	Device            *reference `json:"device"`
	EffectiveDateTime string     `json:"effectiveDateTime"`
	ValueQuantity     *quantity  `json:"valueQuantity"`
	Component         []struct {
		Code          concept   `json:"code"`
		ValueQuantity *quantity `json:"valueQuantity"`
	} `json:"component"`
}

// decode reads a resource back from its JSON, as a FHIR client would, and
// checks the rules of R4's JSON format that hold for every resource.
func decode[T any](t *testing.T, r fhir.Resource) T {
	t.Helper()
	body, err := json.Marshal(r)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(body, &generic))
	requireFHIRJSON(t, "", generic)
	require.NotEmpty(t, generic["resourceType"])
	if id, ok := generic["id"]; ok {
		require.Regexp(t, fhirID, id)
	}
	var out T
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

// requireFHIRJSON: R4 JSON has no nulls, no empty strings, no empty
// objects and no empty arrays.
func requireFHIRJSON(t *testing.T, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil:
		t.Fatalf("%s is null", path)
	case string:
		require.NotEmpty(t, v, "%s is an empty string", path)
	case map[string]any:
		require.NotEmpty(t, v, "%s is an empty object", path)
		for k, e := range v {
			requireFHIRJSON(t, path+"."+k, e)
		}
	case []any:
		require.NotEmpty(t, v, "%s is an empty array", path)
		for _, e := range v {
			requireFHIRJSON(t, path+"[]", e)
		}
	}
}

// requireInstant checks a FHIR dateTime with a time and its instant.
func requireInstant(t *testing.T, want time.Time, got string) {
	t.Helper()
	require.Regexp(t, fhirDateTime, got)
	at, err := time.Parse(time.RFC3339Nano, got)
	require.NoError(t, err)
	require.True(t, want.Truncate(time.Millisecond).Equal(at), "want %s, got %s", want, got)
}

// cet is a zone other than UTC, so that the tests see the instant and not
// the wall clock.
var cet = time.FixedZone("CET", 3600)

func TestObservation(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 30, 123456789, cet)
	for _, tc := range []struct {
		name      string
		r         vitals.Reading
		category  string
		codes     []string // LOINC codes the Observation must carry
		unit      string
		value     float64
		systolic  float64 // blood pressure only
		diastolic float64
	}{
		{name: "a heart rate is LOINC 8867-4 per minute",
			r:        vitals.Reading{Type: vitals.HeartRate, Value: 72},
			category: "vital-signs", codes: []string{"8867-4"}, unit: "/min", value: 72},
		{name: "a respiratory rate is LOINC 9279-1 per minute",
			r:        vitals.Reading{Type: vitals.RespiratoryRate, Value: 16},
			category: "vital-signs", codes: []string{"9279-1"}, unit: "/min", value: 16},
		{name: "an SpO2 carries both 2708-6 and the pulse oximetry code 59408-5, in percent",
			r:        vitals.Reading{Type: vitals.SpO2, Value: 95},
			category: "vital-signs", codes: []string{"2708-6", "59408-5"}, unit: "%", value: 95},
		{name: "a body temperature is LOINC 8310-5 in degrees Celsius",
			r:        vitals.Reading{Type: vitals.BodyTemperature, Value: 38.4},
			category: "vital-signs", codes: []string{"8310-5"}, unit: "Cel", value: 38.4},
		{name: "a body weight is LOINC 29463-7 in kilograms",
			r:        vitals.Reading{Type: vitals.BodyWeight, Value: 81.3},
			category: "vital-signs", codes: []string{"29463-7"}, unit: "kg", value: 81.3},
		{name: "a blood pressure is panel 85354-9 with systolic and diastolic components in mm[Hg]",
			r:        vitals.Reading{Type: vitals.BloodPressure, Value: 128, Diastolic: 82},
			category: "vital-signs", codes: []string{"85354-9"}, unit: "mm[Hg]", systolic: 128, diastolic: 82},
		{name: "a blood glucose is a laboratory result in mg/dL",
			r:        vitals.Reading{Type: vitals.BloodGlucose, Value: 104},
			category: "laboratory", unit: "mg/dL", value: 104},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.Device, r.Patient, r.Time, r.Unit = "watch-1", "ward3-bed12", at, tc.unit
			o := decode[observation](t, fhir.Observation(r, "", ""))

			require.Equal(t, "Observation", o.ResourceType)
			require.Equal(t, fhir.ObservationID(r), o.ID)
			require.Equal(t, "final", o.Status)
			require.Len(t, o.Category, 1)
			require.Equal(t, []string{tc.category}, o.Category[0].codes(obsCategory))
			if tc.category == "vital-signs" {
				require.Contains(t, o.Meta.Profile, vitalSigns)
			} else {
				require.NotContains(t, o.Meta.Profile, vitalSigns, "only vital signs claim the profile")
			}
			if tc.codes != nil {
				require.ElementsMatch(t, tc.codes, o.Code.codes(loinc))
			} else {
				// Glucose: one of the glucometer or CGM codes of DOMAIN.md.
				require.NotEmpty(t, o.Code.codes(loinc))
				for _, c := range o.Code.codes(loinc) {
					require.Contains(t, []string{"2339-0", "41653-7", "99504-3", "15074-8"}, c)
				}
			}
			require.Equal(t, "Patient/ward3-bed12", o.Subject.Reference)
			require.NotNil(t, o.Device)
			require.Equal(t, "Device/watch-1", o.Device.Reference)
			require.Nil(t, o.Encounter)
			requireInstant(t, at, o.EffectiveDateTime)

			if tc.systolic == 0 {
				require.Empty(t, o.Component)
				require.NotNil(t, o.ValueQuantity)
				requireQuantity(t, tc.value, tc.unit, o.ValueQuantity)
				return
			}
			require.Nil(t, o.ValueQuantity, "a panel's values are in its components")
			require.Len(t, o.Component, 2)
			byCode := map[string]*quantity{}
			for _, c := range o.Component {
				require.Len(t, c.Code.codes(loinc), 1)
				byCode[c.Code.codes(loinc)[0]] = c.ValueQuantity
			}
			require.Contains(t, byCode, "8480-6")
			require.Contains(t, byCode, "8462-4")
			requireQuantity(t, tc.systolic, tc.unit, byCode["8480-6"])
			requireQuantity(t, tc.diastolic, tc.unit, byCode["8462-4"])
		})
	}
	t.Run("a reading taken in a visit names the encounter", func(t *testing.T) {
		r := vitals.Reading{Device: "watch-1", Patient: "p1", Type: vitals.HeartRate, Time: at, Value: 72}
		o := decode[observation](t, fhir.Observation(r, "visit-7", ""))
		require.NotNil(t, o.Encounter)
		require.Equal(t, "Encounter/visit-7", o.Encounter.Reference)
	})
	t.Run("every vital type maps to a coded Observation", func(t *testing.T) {
		for _, typ := range vitals.Types() {
			r := vitals.Reading{Device: "watch-1", Patient: "p1", Type: typ, Time: at, Value: 1, Diastolic: 1}
			o := decode[observation](t, fhir.Observation(r, "", ""))
			require.NotEmpty(t, o.Code.codes(loinc), typ)
			require.Len(t, o.Category, 1, typ)
		}
	})
}

func requireQuantity(t *testing.T, value float64, unit string, q *quantity) {
	t.Helper()
	require.NotNil(t, q)
	require.NotNil(t, q.Value)
	require.InDelta(t, value, *q.Value, 1e-9)
	require.Equal(t, ucum, q.System)
	require.Equal(t, unit, q.Code, "the UCUM code")
	require.NotEmpty(t, q.Unit)
}

func TestObservationID(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 30, 123456789, cet)
	base := vitals.Reading{Device: "watch-1", Patient: "ward3.bed-12", Type: vitals.HeartRate, Time: at, Value: 72}

	t.Run("an id round-trips to its patient, type, millisecond and device", func(t *testing.T) {
		for _, typ := range vitals.Types() {
			for _, patient := range []string{"p1", "ward3.bed-12", "A.1.b"} {
				r := base
				r.Type, r.Patient = typ, patient
				id := fhir.ObservationID(r)
				require.Regexp(t, fhirID, id)

				k, err := fhir.ParseObservationID(id)
				require.NoError(t, err, id)
				require.Equal(t, patient, k.Patient, id)
				require.Equal(t, typ, k.Type, id)
				require.True(t, at.Truncate(time.Millisecond).Equal(k.At), "%s: %s", id, k.At)
				require.Equal(t, time.UTC, k.At.Location())
				require.True(t, fhir.MatchesTag("watch-1", k.Tag), id)
				require.False(t, fhir.MatchesTag("watch-2", k.Tag), id)
			}
		}
	})
	t.Run("different readings have different ids", func(t *testing.T) {
		other := func(edit func(*vitals.Reading)) string {
			r := base
			edit(&r)
			return fhir.ObservationID(r)
		}
		ids := map[string]string{
			"base":    fhir.ObservationID(base),
			"device":  other(func(r *vitals.Reading) { r.Device = "watch-2" }),
			"type":    other(func(r *vitals.Reading) { r.Type = vitals.SpO2 }),
			"time":    other(func(r *vitals.Reading) { r.Time = r.Time.Add(time.Millisecond) }),
			"patient": other(func(r *vitals.Reading) { r.Patient = "p2" }),
		}
		seen := map[string]string{}
		for what, id := range ids {
			require.NotContains(t, seen, id, "%s and %s share an id", what, seen[id])
			seen[id] = what
		}
	})
	t.Run("a patient id of 64 characters gives ids of at most 64 that name that patient and no other", func(t *testing.T) {
		long := strings.Repeat("a", 30) + "." + strings.Repeat("b", 33)
		long = long[:64]
		sibling := long[:63] + "c" // the same first 63 characters
		for _, typ := range vitals.Types() {
			for _, ms := range []int64{-1, 0, time.Date(2026, 3, 2, 9, 15, 30, 0, time.UTC).UnixMilli(), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()} {
				r := base
				r.Type, r.Patient, r.Time = typ, long, time.UnixMilli(ms)
				id := fhir.ObservationID(r)
				require.Regexp(t, fhirID, id)
				require.LessOrEqual(t, len(id), 64, id)
				k, err := fhir.ParseObservationID(id)
				require.NoError(t, err, id)
				require.Empty(t, k.Patient, "the long form does not hold the whole patient id")
				require.True(t, k.Names(long), id)
				require.False(t, k.Names(sibling), "a patient id sharing the prefix is another patient")
				require.Equal(t, typ, k.Type)
				require.Equal(t, ms, k.At.UnixMilli())
				r.Patient = sibling
				require.NotEqual(t, id, fhir.ObservationID(r))
			}
		}
	})
	t.Run("an id of 46 characters of patient keeps the short form: ids given before stay the same", func(t *testing.T) {
		r := base
		r.Patient = strings.Repeat("p", 46)
		id := fhir.ObservationID(r)
		require.True(t, strings.HasPrefix(id, r.Patient+".h"), id)
		require.LessOrEqual(t, len(id), 64)
	})
	t.Run("an id of the old form for a long patient (81 characters) is still read", func(t *testing.T) {
		patient := strings.Repeat("q", 64)
		id := patient + ".hlx3k0b2.0f3a9c"
		k, err := fhir.ParseObservationID(id)
		require.NoError(t, err)
		require.Equal(t, patient, k.Patient)
		require.Equal(t, vitals.HeartRate, k.Type)
	})
	t.Run("the same reading always has the same id", func(t *testing.T) {
		r := base
		r.Value = 99 // the value is not part of a reading's identity
		r.Time = at.UTC()
		require.Equal(t, fhir.ObservationID(base), fhir.ObservationID(r))
	})
	for _, tc := range []struct{ name, id string }{
		{"an empty id is refused", ""},
		{"an id without dots is refused", "p1h1a2b3c"},
		{"an id with one dot is refused", "p1.h1a2b3c"},
		{"an id without a patient is refused", ".hlx3k0.abc123"},
		{"an id with an unknown type letter is refused", "p1.xlx3k0.abc123"},
		{"an id without a time is refused", "p1.h.abc123"},
		{"an id whose time is not base 36 is refused", "p1.h!x3.abc123"},
		{"an id with nothing between the dots is refused", "p1..abc123"},
		{"a long-form id without its patient hash is refused", "p1.Hlx3k0.abc123"},
		{"a long-form id with a short prefix is refused", "p1.0123456789abcdef.Hlx3k0.abc123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fhir.ParseObservationID(tc.id)
			require.True(t, errors.Is(err, fhir.ErrBadID), "%q: %v", tc.id, err)
		})
	}
}

func TestCodeType(t *testing.T) {
	for _, tc := range []struct {
		name string
		code string
		want vitals.Type
		ok   bool
	}{
		{"a bare LOINC code finds its vital", "8867-4", vitals.HeartRate, true},
		{"a LOINC code with its system finds its vital", "http://loinc.org|9279-1", vitals.RespiratoryRate, true},
		{"the oxygen saturation code finds SpO2", "2708-6", vitals.SpO2, true},
		{"the pulse oximetry code finds SpO2 too", "http://loinc.org|59408-5", vitals.SpO2, true},
		{"the blood pressure panel code finds blood pressure", "85354-9", vitals.BloodPressure, true},
		{"the body temperature code finds temperature", "8310-5", vitals.BodyTemperature, true},
		{"the body weight code finds weight", "29463-7", vitals.BodyWeight, true},
		{"a systolic component code is not an Observation code", "8480-6", "", false},
		{"a code of another system is not LOINC", "http://snomed.info/sct|8867-4", "", false},
		{"an unknown code finds nothing", "12345-6", "", false},
		{"an empty code finds nothing", "", "", false},
		{"a system without a code finds nothing", "http://loinc.org|", "", false},
		{"a code with no system (|code) is none of ours: each has a system", "|8867-4", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fhir.CodeType(tc.code)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("every Observation's own code finds its vital again", func(t *testing.T) {
		for _, typ := range vitals.Types() {
			r := vitals.Reading{Device: "d", Patient: "p", Type: typ, Time: time.Unix(0, 0)}
			o := decode[observation](t, fhir.Observation(r, "", ""))
			for _, c := range o.Code.codes(loinc) {
				got, ok := fhir.CodeType(loinc + "|" + c)
				require.True(t, ok, c)
				require.Equal(t, typ, got, c)
			}
		}
	})
}

func TestPatient(t *testing.T) {
	type patientJSON struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Active       *bool  `json:"active"`
		Identifier   []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
		Name []struct {
			Text string `json:"text"`
		} `json:"name"`
		BirthDate *string `json:"birthDate"`
	}
	p := chart.Patient{ID: "ward3-bed12", MRN: "MRN-0042", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1}

	t.Run("a chart record is an active Patient with its MRN, name and birth date", func(t *testing.T) {
		got := decode[patientJSON](t, fhir.Patient(p))
		require.Equal(t, "Patient", got.ResourceType)
		require.Equal(t, "ward3-bed12", got.ID)
		require.NotNil(t, got.Active)
		require.True(t, *got.Active)
		require.Len(t, got.Identifier, 1)
		require.Equal(t, "MRN-0042", got.Identifier[0].Value)
		require.Regexp(t, `^[a-z][a-z0-9+.-]*:`, got.Identifier[0].System, "an identifier system is a URI")
		require.Len(t, got.Name, 1)
		require.Equal(t, "Ada Lovelace", got.Name[0].Text)
		require.NotNil(t, got.BirthDate)
		require.Equal(t, "1950-12-10", *got.BirthDate)
	})
	t.Run("an unknown birth date is left out, not empty", func(t *testing.T) {
		p := p
		p.BirthDate = ""
		got := decode[patientJSON](t, fhir.Patient(p))
		require.Nil(t, got.BirthDate)
	})
}

func TestDevice(t *testing.T) {
	type deviceJSON struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Status       string `json:"status"`
		DeviceName   []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"deviceName"`
		Type    *concept   `json:"type"`
		Patient *reference `json:"patient"`
	}
	for _, tc := range []struct {
		name    string
		d       devices.Device
		patient string
		status  string
	}{
		{"a bound device is active and names its patient", devices.Device{ID: "watch-1", Kind: "watch"}, "p1", "active"},
		{"an unbound device names no patient", devices.Device{ID: "watch-1", Kind: "watch"}, "", "active"},
		{"a revoked device is inactive", devices.Device{ID: "ring-2", Kind: "ring", RevokedAt: time.Unix(1_770_000_000, 0)}, "", "inactive"},
		{"a device of no kind has no type", devices.Device{ID: "hub-3"}, "", "active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decode[deviceJSON](t, fhir.Device(tc.d, tc.patient))
			require.Equal(t, "Device", got.ResourceType)
			require.Equal(t, tc.d.ID, got.ID)
			require.Equal(t, tc.status, got.Status)
			require.Len(t, got.DeviceName, 1)
			require.Equal(t, tc.d.ID, got.DeviceName[0].Name)
			require.Contains(t, []string{"udi-label-name", "user-friendly-name", "patient-reported-name", "manufacturer-name", "model-name", "other"}, got.DeviceName[0].Type)
			if tc.d.Kind == "" {
				require.Nil(t, got.Type)
			} else {
				require.NotNil(t, got.Type)
				k, _ := devices.KindOf(tc.d.Kind)
				require.Equal(t, k.Label, got.Type.Text, "the kind's label from the devices catalog")
			}
			if tc.patient == "" {
				require.Nil(t, got.Patient)
			} else {
				require.NotNil(t, got.Patient)
				require.Equal(t, "Patient/"+tc.patient, got.Patient.Reference)
			}
		})
	}
}

type encounterJSON struct {
	ResourceType string    `json:"resourceType"`
	ID           string    `json:"id"`
	Status       string    `json:"status"`
	Class        coding    `json:"class"` // a Coding in R4
	Subject      reference `json:"subject"`
	Period       period    `json:"period"`
	Participant  []struct {
		Type       []concept `json:"type"`
		Period     period    `json:"period"`
		Individual reference `json:"individual"`
	} `json:"participant"`
	Text struct {
		Status string `json:"status"`
		Div    string `json:"div"`
	} `json:"text"`
}

func TestEncounter(t *testing.T) {
	start := time.Date(2026, 3, 2, 14, 0, 0, 0, cet)
	dia := 82.0
	e := chart.Encounter{
		ID: "visit-7", Patient: "p1", Start: start, End: start.Add(20 * time.Minute), WindowStart: start.Add(-time.Hour),
		Participants: []chart.EncounterParticipant{
			{Subject: "p1", Role: "patient", Start: start, End: start.Add(20 * time.Minute)},
			{Subject: "dr-a", Role: "clinician", Start: start.Add(time.Minute), End: start.Add(19 * time.Minute)},
		},
		Summaries: []chart.VitalSummary{
			{Type: "heart_rate", Unit: "/min", Count: 80, Min: 61, Max: 97, Mean: 74.25, Last: 72},
			{Type: "blood_pressure", Unit: "mm[Hg]", Count: 2, Min: 128, Max: 141, Mean: 134.5, Last: 128, LastDia: &dia},
		},
		Alerts: []chart.EncounterAlert{{ID: 7, Rule: "hr_high", Severity: "warning", FiredAt: start.Add(-10 * time.Minute), Value: 131}},
		Note:   `Ankles <less> swollen & "better"; continue furosemide.`,
	}
	got := decode[encounterJSON](t, fhir.Encounter(e))

	t.Run("a visit is a finished virtual Encounter of its patient", func(t *testing.T) {
		require.Equal(t, "Encounter", got.ResourceType)
		require.Equal(t, "visit-7", got.ID)
		require.Equal(t, "finished", got.Status)
		require.Equal(t, v3ActCode, got.Class.System)
		require.Equal(t, "VR", got.Class.Code)
		require.Equal(t, "Patient/p1", got.Subject.Reference)
		requireInstant(t, e.Start, got.Period.Start)
		requireInstant(t, e.End, got.Period.End)
	})
	t.Run("each participant has their time and role", func(t *testing.T) {
		require.Len(t, got.Participant, 2)
		clinician := got.Participant[1]
		require.Len(t, clinician.Type, 1)
		require.Equal(t, []string{"PPRF"}, clinician.Type[0].codes(v3PartType), "the clinician is the primary performer")
		requireInstant(t, e.Participants[1].Start, clinician.Period.Start)
		requireInstant(t, e.Participants[1].End, clinician.Period.End)
		require.Contains(t, clinician.Individual.Display, "dr-a")
		for _, p := range got.Participant {
			require.NotEmpty(t, p.Type[0].codes(v3PartType))
			// R4's encounter-participant-type codes of v3-ParticipationType.
			for _, c := range p.Type[0].codes(v3PartType) {
				require.Contains(t, []string{"ADM", "ATND", "CALLBCK", "CON", "DIS", "ESC", "REF", "SPRF", "PPRF", "PART"}, c)
			}
		}
	})
	t.Run("the narrative is well-formed XHTML with the note as text", func(t *testing.T) {
		require.Equal(t, "generated", got.Text.Status)
		elements, text := parseXHTML(t, got.Text.Div)
		require.Equal(t, "div", elements[0])
		for _, el := range elements {
			// The basic HTML R4 allows in a narrative; never script, form,
			// head, body or the like.
			require.Contains(t, []string{"div", "p", "table", "tr", "th", "td", "ul", "li", "b", "i", "span", "br"}, el)
		}
		require.Contains(t, text, e.Note)
		require.Contains(t, text, "128/82", "the last blood pressure")
		require.Contains(t, text, "hr_high")
	})
	t.Run("an encounter without participants has no participant element", func(t *testing.T) {
		e := e
		e.Participants, e.Summaries, e.Alerts, e.Note = nil, nil, nil, ""
		got := decode[encounterJSON](t, fhir.Encounter(e))
		require.Empty(t, got.Participant)
		elements, _ := parseXHTML(t, got.Text.Div)
		require.Equal(t, "div", elements[0])
	})
}

// parseXHTML parses a narrative div and returns its element names in order
// and its text.
func parseXHTML(t *testing.T, div string) (elements []string, text string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(div))
	d.Strict = true
	var b strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, div)
		switch tok := tok.(type) {
		case xml.StartElement:
			require.Equal(t, xhtmlNS, tok.Name.Space, "every element is XHTML")
			elements = append(elements, tok.Name.Local)
		case xml.CharData:
			b.Write(tok)
		}
	}
	require.NotEmpty(t, elements, div)
	return elements, b.String()
}

type bundleJSON struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string `json:"fullUrl"`
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		} `json:"resource"`
		Search *struct {
			Mode string `json:"mode"`
		} `json:"search"`
	} `json:"entry"`
}

func TestBundle(t *testing.T) {
	const base = "https://vitalwire.example/fhir/r4"
	resources := []fhir.Resource{
		fhir.Patient(chart.Patient{ID: "p1", MRN: "m1", Name: "A", BirthDate: "1950-01-01"}),
		fhir.Device(devices.Device{ID: "watch-1"}, "p1"),
	}

	t.Run("a search page has the total of all matches, its entries and its links", func(t *testing.T) {
		self := base + "/Patient?_count=2&_offset=0"
		next := base + "/Patient?_count=2&_offset=2"
		got := decode[bundleJSON](t, fhir.Bundle("searchset", base, resources, 5, [][2]string{{"self", self}, {"next", next}}))
		require.Equal(t, "Bundle", got.ResourceType)
		require.Equal(t, "searchset", got.Type)
		require.NotNil(t, got.Total)
		require.Equal(t, 5, *got.Total, "the total counts every match, not the page")
		require.Len(t, got.Entry, 2)
		require.Equal(t, base+"/Patient/p1", got.Entry[0].FullURL)
		require.Equal(t, "p1", got.Entry[0].Resource.ID)
		require.Equal(t, base+"/Device/watch-1", got.Entry[1].FullURL)
		for _, e := range got.Entry {
			require.NotNil(t, e.Search)
			require.Equal(t, "match", e.Search.Mode)
		}
		require.Len(t, got.Link, 2)
		require.Equal(t, "self", got.Link[0].Relation)
		require.Equal(t, self, got.Link[0].URL)
		require.Equal(t, "next", got.Link[1].Relation)
		require.Equal(t, next, got.Link[1].URL)
	})
	t.Run("a search without matches has a total of zero and no entries", func(t *testing.T) {
		got := decode[bundleJSON](t, fhir.Bundle("searchset", base, nil, 0, [][2]string{{"self", base + "/Patient"}}))
		require.NotNil(t, got.Total)
		require.Zero(t, *got.Total)
		require.Empty(t, got.Entry)
	})
	t.Run("a collection has no total and no search modes", func(t *testing.T) {
		// R4 bdl-1: total only when a search or history.
		got := decode[bundleJSON](t, fhir.Bundle("collection", base, resources, 2, nil))
		require.Equal(t, "collection", got.Type)
		require.Nil(t, got.Total)
		require.Len(t, got.Entry, 2)
		for _, e := range got.Entry {
			require.Nil(t, e.Search)
		}
		require.Empty(t, got.Link)
	})
}

func TestOutcome(t *testing.T) {
	type outcomeJSON struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity    string `json:"severity"`
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	got := decode[outcomeJSON](t, fhir.Outcome("error", "not-found", "no such Observation"))
	require.Equal(t, "OperationOutcome", got.ResourceType)
	require.Len(t, got.Issue, 1)
	require.Equal(t, "error", got.Issue[0].Severity)
	require.Equal(t, "not-found", got.Issue[0].Code)
	require.Equal(t, "no such Observation", got.Issue[0].Diagnostics)
}

func TestDeviceCarriesModelSerialAndIEEE11073Type(t *testing.T) {
	type deviceJSON struct {
		Type         *concept `json:"type"`
		SerialNumber string   `json:"serialNumber"`
		ModelNumber  string   `json:"modelNumber"`
	}
	for _, tc := range []struct{ kind, mdc string }{
		{"oximeter", "528388"}, {"cuff", "528391"}, {"thermometer", "528392"},
		{"scale", "528399"}, {"glucometer", "528401"}, {"cgm", "528409"}, {"watch", ""},
	} {
		t.Run(tc.kind+" is typed MDC "+tc.mdc, func(t *testing.T) {
			d := devices.Device{ID: "d-1", Kind: tc.kind, Serial: "SN-123", Model: "M-9"}
			got := decode[deviceJSON](t, fhir.Device(d, "p1"))
			require.Equal(t, "SN-123", got.SerialNumber)
			require.Equal(t, "M-9", got.ModelNumber)
			require.NotNil(t, got.Type)
			if tc.mdc == "" {
				require.Empty(t, got.Type.codes(mdc), "a watch has no one device specialization")
				return
			}
			require.Equal(t, []string{tc.mdc}, got.Type.codes(mdc))
		})
	}
	t.Run("an unknown serial, model and manufacturer are left out", func(t *testing.T) {
		got := fhir.Device(devices.Device{ID: "d-2", Kind: "cuff"}, "")
		require.NotContains(t, got, "serialNumber")
		require.NotContains(t, got, "modelNumber")
		require.NotContains(t, got, "manufacturer")
	})
	t.Run("the registry's manufacturer is the Device's manufacturer", func(t *testing.T) {
		got := decode[struct {
			Manufacturer string `json:"manufacturer"`
		}](t, fhir.Device(devices.Device{ID: "d-3", Kind: "cuff", Manufacturer: "Omron Healthcare"}, ""))
		require.Equal(t, "Omron Healthcare", got.Manufacturer)
	})
}

func TestPatientName(t *testing.T) {
	type nameJSON struct {
		Name []struct {
			Use    string   `json:"use"`
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		Gender *string `json:"gender"`
	}
	t.Run("a name written family first, after a comma, is structured", func(t *testing.T) {
		got := decode[nameJSON](t, fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "Lovelace, Ada Augusta"}))
		require.Len(t, got.Name, 1)
		require.Equal(t, "Lovelace", got.Name[0].Family)
		require.Equal(t, []string{"Ada", "Augusta"}, got.Name[0].Given)
		require.Equal(t, "Ada Augusta Lovelace", got.Name[0].Text)
		require.Equal(t, "official", got.Name[0].Use)
		require.Nil(t, got.Gender, "the record holds no gender: none is made up")
	})
	t.Run("a name without a comma is given as text only, no family guessed", func(t *testing.T) {
		got := decode[nameJSON](t, fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "Nguyen Van An"}))
		require.Equal(t, "Nguyen Van An", got.Name[0].Text)
		require.Empty(t, got.Name[0].Family)
		require.Empty(t, got.Name[0].Given)
	})
	t.Run("a record's family and given names are the structured name, its name the text", func(t *testing.T) {
		got := decode[nameJSON](t, fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "Nguyen Van An",
			Family: "Nguyen", Given: []string{"Van", "An"}}))
		require.Len(t, got.Name, 1)
		require.Equal(t, "Nguyen", got.Name[0].Family)
		require.Equal(t, []string{"Van", "An"}, got.Name[0].Given)
		require.Equal(t, "Nguyen Van An", got.Name[0].Text, "the name as shown, in the patient's own order")
	})
	t.Run("the record's parts win over a comma in the name", func(t *testing.T) {
		got := decode[nameJSON](t, fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "Smith, Jr., John",
			Family: "Smith", Given: []string{"John"}}))
		require.Equal(t, "Smith", got.Name[0].Family)
		require.Equal(t, []string{"John"}, got.Name[0].Given)
		require.Equal(t, "Smith, Jr., John", got.Name[0].Text)
	})
	t.Run("a family name alone is given without given names", func(t *testing.T) {
		got := fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "Sukarno", Family: "Sukarno"})
		name := got["name"].([]fhir.Resource)[0]
		require.Equal(t, "Sukarno", name["family"])
		require.NotContains(t, name, "given")
	})
	for _, g := range chart.Genders {
		t.Run("gender "+g+" is the Patient's administrative gender", func(t *testing.T) {
			got := decode[nameJSON](t, fhir.Patient(chart.Patient{ID: "p1", MRN: "M1", Name: "A B", Gender: g}))
			require.NotNil(t, got.Gender)
			require.Equal(t, g, *got.Gender)
		})
	}
}

func TestVitalSignsDeclareTheirSpecificProfiles(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 30, 0, time.UTC)
	for typ, profile := range map[vitals.Type]string{
		vitals.HeartRate: "heartrate", vitals.SpO2: "oxygensat", vitals.BloodPressure: "bp",
		vitals.BodyTemperature: "bodytemp", vitals.BodyWeight: "bodyweight", vitals.RespiratoryRate: "resprate",
	} {
		t.Run(string(typ)+" declares "+profile, func(t *testing.T) {
			r := vitals.Reading{Device: "d", Patient: "p1", Type: typ, Time: at, Value: 90, Diastolic: 60}
			o := decode[observation](t, fhir.Observation(r, "", ""))
			require.ElementsMatch(t, []string{vitalSigns, "http://hl7.org/fhir/StructureDefinition/" + profile}, o.Meta.Profile)
		})
	}
}

func TestGlucoseIsCodedByTheDeviceKind(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 30, 0, time.UTC)
	for _, tc := range []struct{ kind, code string }{
		{"cgm", "99504-3"}, {"glucometer", "41653-7"}, {"", "2339-0"},
	} {
		t.Run("a reading of a "+tc.kind+" device is LOINC "+tc.code, func(t *testing.T) {
			r := vitals.Reading{Device: "g", Patient: "p1", Type: vitals.BloodGlucose, Time: at, Value: 104}
			o := decode[observation](t, fhir.Observation(r, "", tc.kind))
			require.Equal(t, []string{tc.code}, o.Code.codes(loinc))
			got, ok := fhir.CodeType(tc.code)
			require.True(t, ok)
			require.Equal(t, vitals.BloodGlucose, got)
		})
	}
}
