// Package fhirapi tests the FHIR R4 API the way an EHR integrator meets
// it: discovery through the CapabilityStatement, what is really served,
// the errors, and every answer checked by an independent FHIR R4
// validator (test/node/fhir: the official R4 JSON schema and FHIR.js's
// StructureDefinition validator, under node) and by Google's FHIR R4
// library.
package fhirapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// answer is one FHIR answer, kept for the validator.
type answer struct {
	Name   string          `json:"name"`
	Body   json.RawMessage `json:"body"`
	status int
	header http.Header
}

// client calls the FHIR API and keeps every answer.
type client struct {
	t       *testing.T
	s       *harness.Service
	mu      sync.Mutex
	answers []answer
}

func (c *client) do(method, path, token string, hdr map[string]string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.s.URL()+path, nil)
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.s.HTTP.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	a := answer{Name: method + " " + path, Body: body, status: resp.StatusCode, header: resp.Header}
	require.True(c.t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json"),
		"%s: every FHIR answer is application/fhir+json, got %q (%d)", a.Name, resp.Header.Get("Content-Type"), resp.StatusCode)
	if method != http.MethodHead {
		require.True(c.t, json.Valid(body), "%s: JSON body", a.Name)
		c.mu.Lock()
		c.answers = append(c.answers, a)
		c.mu.Unlock()
	}
	return a
}

func (c *client) get(path, token string) answer { return c.do("GET", path, token, nil) }

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(a.Body, &v), a.Name)
	return v
}

type outcome struct {
	ResourceType string
	Issue        []struct{ Severity, Code, Diagnostics string }
}

// requireOutcome checks an error answer: status and an OperationOutcome
// with an error issue of code.
func requireOutcome(t *testing.T, a answer, status int, code string) outcome {
	t.Helper()
	require.Equal(t, status, a.status, "%s: %s", a.Name, a.Body)
	o := decode[outcome](t, a)
	require.Equal(t, "OperationOutcome", o.ResourceType, a.Name)
	require.NotEmpty(t, o.Issue, a.Name)
	require.Equal(t, "error", o.Issue[0].Severity, a.Name)
	if code != "" {
		require.Equal(t, code, o.Issue[0].Code, a.Name)
	}
	return o
}

type bundle struct {
	ResourceType string
	Type         string
	Total        *int
	Link         []struct{ Relation, URL string }
	Entry        []struct {
		Resource json.RawMessage
		Search   struct{ Mode string }
	}
}

type observation struct {
	ResourceType string
	ID           string
	Meta         struct{ Profile []string }
	Code         struct {
		Coding []struct{ System, Code string }
	}
	Category []struct {
		Coding []struct{ Code string }
	}
	Encounter *struct{ Reference string }
}

func (o observation) loinc() []string {
	var out []string
	for _, c := range o.Code.Coding {
		if c.System == vitals.LOINC {
			out = append(out, c.Code)
		}
	}
	return out
}

func observations(t *testing.T, a answer) []observation {
	t.Helper()
	var out []observation
	for _, e := range decode[bundle](t, a).Entry {
		var o observation
		require.NoError(t, json.Unmarshal(e.Resource, &o))
		if o.ResourceType == "Observation" {
			out = append(out, o)
		}
	}
	return out
}

// capability is the part of a CapabilityStatement the tests compare.
type capability struct {
	ResourceType string
	FHIRVersion  string `json:"fhirVersion"`
	Rest         []struct {
		Mode     string
		Security struct {
			Extension []struct {
				URL       string
				Extension []struct{ URL, ValueURI string }
			}
			Service []struct {
				Coding []struct{ System, Code string }
			}
		}
		Resource []struct {
			Type        string
			Interaction []struct{ Code string }
			SearchParam []struct{ Name, Type string }
			Operation   []struct{ Name string }
		}
	}
}

func TestTheFHIRAPIServesWhatItsCapabilityStatementSaysAndEveryAnswerIsValidR4(t *testing.T) {
	t.Parallel()
	nodeDir := testenv.NodePackages(t, filepath.Join("..", "node", "fhir"))
	s := harness.Start(t, harness.Config(t))
	devs := s.Ward(t)
	long := strings.Repeat("L", 40) + "-" + strings.Repeat("9", 23) // 64 characters
	s.AddPatient(t, chart.Patient{ID: long, MRN: "MRN-LONG", Name: "Lovelace, Ada Augusta", BirthDate: "1950-12-10", SpO2Scale: 1})
	s.AddMember(t, "ward", "patient", long)
	from := time.Now().Add(-48 * time.Hour)
	cgm := harness.Connect(t, s.BrokerURL(), "cgm-p1", s.AddDeviceFrom(t, "cgm-p1", "cgm", "p1", from))
	meter := harness.Connect(t, s.BrokerURL(), "meter-long", s.AddDeviceFrom(t, "meter-long", "glucometer", long, from))
	cuff := harness.Connect(t, s.BrokerURL(), "cuff-long", s.AddDeviceFrom(t, "cuff-long", "cuff", long, from))

	now := time.Now().Truncate(time.Second)
	var hr []string
	for i := range 10 {
		hr = append(hr, harness.Reading(vitals.HeartRate, float64(70+i), "/min", now.Add(-time.Duration(i)*10*time.Minute)))
	}
	devs["p1"].Publish(harness.Batch(1, hr...))
	devs["p1"].Publish(harness.Reading(vitals.SpO2, 97, "%", now.Add(-5*time.Minute)))
	cgm.Publish(harness.Reading(vitals.BloodGlucose, 110, "mg/dL", now.Add(-7*time.Minute)))
	devs["p2"].Publish(harness.Reading(vitals.HeartRate, 64, "/min", now.Add(-3*time.Minute)))
	meter.Publish(harness.Reading(vitals.BloodGlucose, 5.5, "mmol/L", now.Add(-9*time.Minute)))
	cuff.Publish(`{"type":"blood_pressure","systolic":128,"diastolic":82,"unit":"mm[Hg]","time":"` + now.Add(-11*time.Minute).UTC().Format(time.RFC3339) + `"}`)

	doc1, doc3 := s.Clinician("doc1"), s.Clinician("doc3")
	// A visit of p1 attached to the chart: its Encounter covers the
	// readings of its window.
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc1, map[string]any{}, &created)
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+created.Visit.ID+"/attach", doc1, map[string]string{"note": "seen"}, nil)

	c := &client{t: t, s: s}

	var cs capability
	t.Run("the CapabilityStatement is served without credentials and names SMART and the token endpoint", func(t *testing.T) {
		a := c.get("/fhir/r4/metadata", "")
		require.Equal(t, http.StatusOK, a.status)
		cs = decode[capability](t, a)
		require.Equal(t, "CapabilityStatement", cs.ResourceType)
		require.Equal(t, "4.0.1", cs.FHIRVersion)
		require.Len(t, cs.Rest, 1)
		require.Equal(t, "server", cs.Rest[0].Mode)
		sec := cs.Rest[0].Security
		require.Len(t, sec.Service, 1)
		require.Equal(t, "SMART-on-FHIR", sec.Service[0].Coding[0].Code)
		var token string
		for _, e := range sec.Extension {
			if e.URL == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
				for _, x := range e.Extension {
					if x.URL == "token" {
						token = x.ValueURI
					}
				}
			}
		}
		require.Equal(t, s.URL()+"/oauth2/token", token)
	})

	// Ids of each type that exist, for the reads.
	everything := c.get("/fhir/r4/Patient/p1/$everything", doc1)
	require.Equal(t, http.StatusOK, everything.status)
	ids := map[string]string{"Patient": "p1", "Device": "watch-p1", "Encounter": created.Visit.ID}
	for _, o := range observations(t, everything) {
		ids["Observation"] = o.ID
	}
	require.NotEmpty(t, ids["Observation"])

	t.Run("what a client finds served is exactly what the statement lists", func(t *testing.T) {
		// notServed: the answer says the server has no such interaction
		// or parameter (404/405 not-supported, or 400 not-supported).
		notServed := func(a answer) bool {
			if a.status == http.StatusMethodNotAllowed {
				return true
			}
			if a.status != http.StatusNotFound && a.status != http.StatusBadRequest {
				return false
			}
			o := decode[outcome](t, a)
			return len(o.Issue) > 0 && o.Issue[0].Code == "not-supported"
		}
		found := map[string]bool{}
		types := []string{"Patient", "Observation", "Device", "Encounter", "Practitioner", "Condition", "MedicationRequest",
			"DiagnosticReport", "AllergyIntolerance", "Organization", "CarePlan", "Procedure", "Immunization", "DeviceMetric", "Location"}
		for _, typ := range types {
			id := ids[typ]
			if id == "" {
				id = "x1"
			}
			probes := map[string]answer{
				"read":             c.get("/fhir/r4/"+typ+"/"+id, doc1),
				"vread":            c.get("/fhir/r4/"+typ+"/"+id+"/_history/1", doc1),
				"history-instance": c.get("/fhir/r4/"+typ+"/"+id+"/_history", doc1),
				"history-type":     c.get("/fhir/r4/"+typ+"/_history", doc1),
				"search-type":      c.get("/fhir/r4/"+typ+"?patient=p1", doc1),
				"create":           c.do("POST", "/fhir/r4/"+typ, doc1, nil),
				"update":           c.do("PUT", "/fhir/r4/"+typ+"/"+id, doc1, nil),
				"patch":            c.do("PATCH", "/fhir/r4/"+typ+"/"+id, doc1, nil),
				"delete":           c.do("DELETE", "/fhir/r4/"+typ+"/"+id, doc1, nil),
				"$everything":      c.get("/fhir/r4/"+typ+"/"+id+"/$everything", doc1),
				"$validate":        c.get("/fhir/r4/"+typ+"/"+id+"/$validate", doc1),
				"$lastn":           c.get("/fhir/r4/"+typ+"/$lastn?patient=p1", doc1),
			}
			for what, a := range probes {
				if !notServed(a) {
					found[typ+" "+what] = true
				}
			}
			if !found[typ+" search-type"] {
				continue
			}
			values := map[string]string{"patient": "p1", "subject": "Patient/p1", "code": "8867-4", "date": "ge2020-01-01",
				"category": "vital-signs", "status": "final", "encounter": "Encounter/x1", "identifier": "x", "_id": "x",
				"_lastUpdated": "ge2020-01-01", "value-quantity": "gt1", "device": "Device/x", "performer": "x", "type": "x",
				"class": "VR", "_sort": "date", "_include": "Observation:patient", "_elements": "id", "combo-code": "x",
				"based-on": "x", "code:text": "x", "date:missing": "true"}
			for name, v := range values {
				q := url.Values{name: {v}}
				if name != "patient" {
					q.Set("patient", "p1")
				}
				if a := c.get("/fhir/r4/"+typ+"?"+q.Encode(), doc1); a.status == http.StatusOK {
					found[typ+" ?"+name] = true
				} else {
					require.True(t, notServed(a), "%s: %d %s", a.Name, a.status, a.Body)
				}
			}
		}
		listed := map[string]bool{}
		for _, r := range cs.Rest[0].Resource {
			for _, i := range r.Interaction {
				listed[r.Type+" "+i.Code] = true
			}
			for _, o := range r.Operation {
				listed[r.Type+" $"+o.Name] = true
			}
			for _, p := range r.SearchParam {
				listed[r.Type+" ?"+p.Name] = true
			}
		}
		require.Equal(t, sorted(listed), sorted(found), "served (right) against listed (left)")
	})

	t.Run("errors are OperationOutcomes with the right status", func(t *testing.T) {
		a := c.get("/fhir/r4/Observation?patient=p1", "")
		requireOutcome(t, a, http.StatusUnauthorized, "login")
		require.NotEmpty(t, a.header.Get("WWW-Authenticate"))
		requireOutcome(t, c.get("/fhir/r4/Patient/p1", ""), http.StatusUnauthorized, "login")
		requireOutcome(t, c.get("/fhir/r4/Observation?patient=p1", doc3), http.StatusForbidden, "forbidden")
		requireOutcome(t, c.get("/fhir/r4/Patient/p1", doc3), http.StatusForbidden, "forbidden")
		requireOutcome(t, c.get("/fhir/r4/Medication/m1", doc1), http.StatusNotFound, "not-supported")
		requireOutcome(t, c.get("/fhir/r4/Device/no-such-device", doc1), http.StatusNotFound, "not-found")
		requireOutcome(t, c.get("/fhir/r4/Observation/p1.h0.000000", doc1), http.StatusNotFound, "not-found")
		requireOutcome(t, c.get("/fhir/r4/Observation/bad!id", doc1), http.StatusBadRequest, "invalid")
		requireOutcome(t, c.get("/fhir/r4/Observation?patient=p1&date=yesterday", doc1), http.StatusBadRequest, "invalid")
		a = c.do("POST", "/fhir/r4/Observation", doc1, nil)
		requireOutcome(t, a, http.StatusMethodNotAllowed, "not-supported")
		require.Contains(t, a.header.Get("Allow"), "GET")
		requireOutcome(t, c.do("GET", "/fhir/r4/Patient/p1", doc1, map[string]string{"Accept": "application/fhir+xml"}), http.StatusNotAcceptable, "not-supported")
		requireOutcome(t, c.get("/fhir/r4/Patient/p1?_format=xml", doc1), http.StatusNotAcceptable, "not-supported")
		require.Equal(t, http.StatusOK, c.get("/fhir/r4/Patient/p1?_format=json", doc1).status)
		require.Equal(t, http.StatusOK, c.do("GET", "/fhir/r4/Patient/p1", doc1, map[string]string{"Accept": "application/fhir+json; fhirVersion=4.0"}).status)
		o := requireOutcome(t, c.get("/fhir/r4/Observation?patient=p1&value-quantity=gt100", doc1), http.StatusBadRequest, "not-supported")
		require.Contains(t, o.Issue[0].Diagnostics, "value-quantity")
		requireOutcome(t, c.get("/fhir/r4/Observation?patient=p1&_summary=text", doc1), http.StatusBadRequest, "not-supported")
	})

	t.Run("with Prefer: handling=lenient an unsupported parameter is ignored, left out of the self link and reported", func(t *testing.T) {
		a := c.do("GET", "/fhir/r4/Observation?patient=p1&code=8867-4&value-quantity=gt100", doc1, map[string]string{"Prefer": "handling=lenient"})
		require.Equal(t, http.StatusOK, a.status, "%s", a.Body)
		b := decode[bundle](t, a)
		require.NotNil(t, b.Total)
		require.Equal(t, 10, *b.Total, "the ten heart rates: the ignored filter filtered nothing")
		var outcomes int
		for _, e := range b.Entry {
			if e.Search.Mode == "outcome" {
				outcomes++
				require.Contains(t, string(e.Resource), "value-quantity")
			}
		}
		require.Equal(t, 1, outcomes)
		for _, l := range b.Link {
			if l.Relation == "self" {
				require.NotContains(t, l.URL, "value-quantity")
				require.Contains(t, l.URL, "code=8867-4")
			}
		}
	})

	t.Run("_summary=count answers the total and no entries", func(t *testing.T) {
		b := decode[bundle](t, c.get("/fhir/r4/Observation?patient=p1&_summary=count", doc1))
		require.NotNil(t, b.Total)
		require.Equal(t, 12, *b.Total, "10 heart rates, an SpO2 and a glucose")
		require.Empty(t, b.Entry)
		b = decode[bundle](t, c.get("/fhir/r4/Encounter?patient=p1&_summary=count", doc1))
		require.Equal(t, 1, *b.Total)
		require.Empty(t, b.Entry)
	})

	t.Run("category=laboratory finds the glucose and no vital signs; vital-signs finds no glucose", func(t *testing.T) {
		labs := observations(t, c.get("/fhir/r4/Observation?patient=p1&category=laboratory", doc1))
		require.Len(t, labs, 1)
		require.Equal(t, []string{"99504-3"}, labs[0].loinc(), "a CGM reading is interstitial glucose")
		require.Empty(t, observations(t, c.get("/fhir/r4/Observation?patient=p2&category=laboratory", doc1)))
		b := decode[bundle](t, c.get("/fhir/r4/Observation?patient=p2&category=laboratory", doc1))
		require.Equal(t, 0, *b.Total)
		vs := observations(t, c.get("/fhir/r4/Observation?patient=p1&category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs", doc1))
		require.Len(t, vs, 11)
		for _, o := range vs {
			require.Equal(t, "vital-signs", o.Category[0].Coding[0].Code)
		}
	})

	t.Run("a search by a glucose code finds the readings of the devices that code is for", func(t *testing.T) {
		cgmObs := observations(t, c.get("/fhir/r4/Observation?patient=p1&code=99504-3", doc1))
		require.Len(t, cgmObs, 1)
		require.Equal(t, []string{"99504-3"}, cgmObs[0].loinc())
		b := decode[bundle](t, c.get("/fhir/r4/Observation?patient=p1&code=41653-7", doc1))
		require.Empty(t, b.Entry, "p1's glucose is from a CGM, not a glucometer")
		require.Equal(t, 0, *b.Total)
		meterObs := observations(t, c.get("/fhir/r4/Observation?patient="+long+"&code=http://loinc.org|41653-7", doc1))
		require.Len(t, meterObs, 1)
		require.Equal(t, []string{"41653-7"}, meterObs[0].loinc())
		b = decode[bundle](t, c.get("/fhir/r4/Observation?patient=p1&code=99504-3,8867-4&_summary=count", doc1))
		require.Equal(t, 11, *b.Total, "the CGM reading and ten heart rates")
		all := observations(t, c.get("/fhir/r4/Observation?patient=p1&code=urn:iso:std:iso:11073:10101|160020", doc1))
		require.Len(t, all, 1, "the IEEE 11073 glucose code is of every kind")
	})

	t.Run("Observation read and search carry the encounter $everything gives", func(t *testing.T) {
		inVisit := 0
		search := map[string]observation{}
		for _, o := range observations(t, c.get("/fhir/r4/Observation?patient=p1&_count=100", doc1)) {
			search[o.ID] = o
		}
		for _, o := range observations(t, everything) {
			read := decode[observation](t, c.get("/fhir/r4/Observation/"+o.ID, doc1))
			require.Equal(t, o.Encounter, read.Encounter, o.ID)
			require.Contains(t, search, o.ID)
			require.Equal(t, o.Encounter, search[o.ID].Encounter, o.ID)
			if o.Encounter != nil {
				inVisit++
				require.Equal(t, "Encounter/"+created.Visit.ID, o.Encounter.Reference)
			}
		}
		require.Positive(t, inVisit, "some readings fall in the visit's window")
	})

	t.Run("a patient id of 64 characters gives Observation ids of at most 64 that read back", func(t *testing.T) {
		obs := observations(t, c.get("/fhir/r4/Observation?patient="+long, doc1))
		require.Len(t, obs, 2)
		for _, o := range obs {
			require.LessOrEqual(t, len(o.ID), 64, o.ID)
			require.Regexp(t, `^[A-Za-z0-9\-.]{1,64}$`, o.ID)
			read := c.get("/fhir/r4/Observation/"+o.ID, doc1)
			require.Equal(t, http.StatusOK, read.status, "%s", read.Body)
			require.Equal(t, o.ID, decode[observation](t, read).ID)
			requireOutcome(t, c.get("/fhir/r4/Observation/"+o.ID, doc3), http.StatusForbidden, "forbidden")
			if slices.Contains(o.loinc(), "41653-7") {
				continue // the glucometer's
			}
			require.Equal(t, []string{"85354-9"}, o.loinc())
			require.ElementsMatch(t, []string{"http://hl7.org/fhir/StructureDefinition/vitalsigns", "http://hl7.org/fhir/StructureDefinition/bp"}, o.Meta.Profile)
		}
		var kinds []string
		for _, o := range obs {
			kinds = append(kinds, o.loinc()...)
		}
		require.Contains(t, kinds, "41653-7", "a glucometer reading is capillary glucose by glucometer")
	})

	t.Run("the Patient has a structured name, the Device its IEEE 11073 type", func(t *testing.T) {
		p := decode[struct {
			Name []struct {
				Family string
				Given  []string
			}
		}](t, c.get("/fhir/r4/Patient/"+long, doc1))
		require.Equal(t, "Lovelace", p.Name[0].Family)
		require.Equal(t, []string{"Ada", "Augusta"}, p.Name[0].Given)
		d := decode[struct {
			Type struct {
				Coding []struct{ System, Code string }
			}
		}](t, c.get("/fhir/r4/Device/cuff-long", doc1))
		require.Equal(t, "528391", d.Type.Coding[0].Code)
		c.get("/fhir/r4/Device?patient="+long, doc1)
	})

	t.Run("a Patient charted with gender and name parts, and a Device with its manufacturer, carry them", func(t *testing.T) {
		s.AddPatient(t, chart.Patient{ID: "p4", MRN: "MRN-004", Name: "Nguyễn Văn An", Family: "Nguyễn", Given: []string{"Văn", "An"},
			Gender: "male", BirthDate: "1961-04-30", SpO2Scale: 1})
		s.AddMember(t, "ward", "patient", "p4")
		s.MustCall(t, http.StatusCreated, "POST", "/api/v1/devices", s.Admin(), httpapi.AddDeviceRequest{ID: "oxi-p4", Kind: "oximeter",
			Patient: "p4", Manufacturer: "Nonin Medical", Model: "3150", Serial: "NM-501"}, nil)
		p := decode[struct {
			Gender string
			Name   []struct {
				Text   string
				Family string
				Given  []string
			}
		}](t, c.get("/fhir/r4/Patient/p4", doc1))
		require.Equal(t, "male", p.Gender)
		require.Len(t, p.Name, 1)
		require.Equal(t, "Nguyễn Văn An", p.Name[0].Text, "the name as shown, in the patient's own order")
		require.Equal(t, "Nguyễn", p.Name[0].Family)
		require.Equal(t, []string{"Văn", "An"}, p.Name[0].Given)
		d := decode[struct {
			Manufacturer, ModelNumber, SerialNumber string
		}](t, c.get("/fhir/r4/Device/oxi-p4", doc1))
		require.Equal(t, "Nonin Medical", d.Manufacturer)
		require.Equal(t, "3150", d.ModelNumber)
		require.Equal(t, "NM-501", d.SerialNumber)
		c.get("/fhir/r4/Device?patient=p4", doc1)
		c.get("/fhir/r4/Patient/p4/$everything", doc1)
		c.get("/fhir/r4/Encounter?patient=p1", doc1)
		c.get("/fhir/r4/Encounter/"+created.Visit.ID+"/_history", doc1)
		c.get("/fhir/r4/Encounter/"+created.Visit.ID+"/_history/1", doc1)
	})

	t.Run("every answer above, success or error, is valid FHIR R4", func(t *testing.T) {
		require.Greater(t, len(c.answers), 100)
		// The validators refuse what is not R4: an id past 64 characters,
		// a status outside its required value set, a missing code.
		bad := answer{Name: "known bad", Body: json.RawMessage(`{"resourceType":"Observation","id":"` + strings.Repeat("x", 65) + `","status":"finale"}`)}
		problems := validate(t, nodeDir, append(slices.Clone(c.answers), bad))
		knownBad := strings.Join(problems["known bad"], "\n")
		for _, want := range []string{".id should match pattern", `Observation.status: Code "finale"`, "Observation.code: Missing property"} {
			require.Contains(t, knownBad, want)
		}
		delete(problems, "known bad")
		require.Empty(t, problems, "answers the FHIR R4 validators refuse")
		// And Google's FHIR R4 library (Go, protocol buffers generated from
		// the R4 definitions, with its validation on) parses each.
		u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
		require.NoError(t, err)
		for _, a := range c.answers {
			_, err := u.Unmarshal(a.Body)
			require.NoError(t, err, "%s: %s", a.Name, a.Body)
		}
		_, err = u.Unmarshal(bad.Body)
		require.Error(t, err, "the known bad resource")
	})
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validate runs the independent validators over the answers and returns
// what they refuse, by answer.
func validate(t *testing.T, dir string, answers []answer) map[string][]string {
	t.Helper()
	in, err := json.Marshal(answers)
	require.NoError(t, err)
	cmd := exec.Command(testenv.NodeBinary(), "validate.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "validator: %s", stderr.String())
	var res []struct {
		Name     string
		Problems []string
	}
	require.NoError(t, json.Unmarshal(out, &res))
	problems := map[string][]string{}
	for _, r := range res {
		problems[r.Name] = append(problems[r.Name], r.Problems...)
	}
	return problems
}
