package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/vitals"
)

// fhirGet fetches a FHIR resource, checks the media type, and validates
// it with Google's FHIR R4 library (an independent parser with the R4
// cardinality and value-set checks). It returns the JSON.
func fhirGet(t *testing.T, a *app.App, token, path string) map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", a.URL()+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	require.Equal(t, "application/fhir+json", resp.Header.Get("Content-Type"))
	validateFHIR(t, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out))
	return out
}

var fhirR4 = func() *jsonformat.Unmarshaller {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		panic(err)
	}
	return u
}()

func validateFHIR(t *testing.T, body []byte) {
	t.Helper()
	_, err := fhirR4.Unmarshal(body)
	require.NoError(t, err, "FHIR R4 validation of %s", truncate(string(body), 600))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func wsBase(a *app.App) string { return strings.Replace(a.URL(), "http://", "ws://", 1) }

func TestAVisitThroughTheSFUEndsInTheChartAsFHIR(t *testing.T) {
	cfg := testConfig(t)
	cfg.Telehealth.LoopbackOnly = true
	a := startApp(t, cfg)
	devs := ward(t, a)
	now := time.Now()
	// Readings of Ada in the look-back and during the visit.
	devs["p1"].publish(batch(1,
		reading(vitals.HeartRate, 72, "/min", now.Add(-2*time.Hour)),
		reading(vitals.SpO2, 96, "%", now.Add(-90*time.Minute)),
		`{"type":"blood_pressure","systolic":128,"diastolic":82,"unit":"mm[Hg]","time":"`+now.Add(-time.Hour).UTC().Format(time.RFC3339Nano)+`"}`,
		reading(vitals.BodyTemperature, 98.6, "[degF]", now.Add(-time.Hour))))
	doc1, _ := a.Signer.Mint("doc1", auth.RoleClinician, time.Hour)
	doc3, _ := a.Signer.Mint("doc3", auth.RoleClinician, time.Hour)

	var created app.VisitCreated
	require.Equal(t, http.StatusCreated, apiCall(t, a, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created))
	id := created.Visit.ID
	u, err := url.Parse(created.PatientLink.URL)
	require.NoError(t, err)
	q, err := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/join?"))
	require.NoError(t, err)
	code := q.Get("code")
	require.Equal(t, id, q.Get("visit"))

	t.Run("a clinician outside the care team can neither read nor join", func(t *testing.T) {
		require.Equal(t, http.StatusForbidden, apiCall(t, a, "GET", "/api/v1/visits/"+id, doc3, "", nil))
		_, resp, err := websocket.DefaultDialer.Dial(wsBase(a)+"/ws/v1/visits/"+id, http.Header{"Authorization": {"Bearer " + doc3}})
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		var refused int
		require.NoError(t, a.RecordsDB().QueryRow(`SELECT count(*) FROM audit_events WHERE actor = 'doc3' AND patient = 'p1' AND outcome = 'refused'`).Scan(&refused))
		require.Equal(t, 2, refused, "both refusals audited")
	})

	t.Run("a join link expires, and is good for its visit only", func(t *testing.T) {
		old, _ := a.Signer.MintUse("p1", auth.RolePatient, -time.Minute, "visit:"+id)
		_, resp, err := websocket.DefaultDialer.Dial(wsBase(a)+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(old), nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		var other app.VisitCreated
		require.Equal(t, http.StatusCreated, apiCall(t, a, "POST", "/api/v1/patients/p2/visits", doc1, `{}`, &other))
		_, resp, err = websocket.DefaultDialer.Dial(wsBase(a)+"/ws/v1/visits/"+other.Visit.ID+"?join="+url.QueryEscape(code), nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, http.StatusUnauthorized, apiCall(t, a, "GET", "/api/v1/me/patients", code, "", nil), "not a bearer token")
	})

	api := rtctest.API(t)
	patient := rtctest.Join(t, api, wsBase(a)+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(code), "p1", nil)
	clinician := rtctest.Join(t, api, wsBase(a)+"/ws/v1/visits/"+id, "doc1", http.Header{"Authorization": {"Bearer " + doc1}})
	patient.Send(300)
	clinician.Send(300)

	t.Run("the patient and the clinician see and hear each other", func(t *testing.T) {
		patient.WaitFor("doc1", "video", 60, 15*time.Second)
		patient.WaitFor("doc1", "audio", 30, 15*time.Second)
		clinician.WaitFor("p1", "video", 60, 15*time.Second)
		clinician.WaitFor("p1", "audio", 30, 15*time.Second)
		var v app.VisitView
		require.Equal(t, http.StatusOK, apiCall(t, a, "GET", "/api/v1/visits/"+id, doc1, "", &v))
		require.Equal(t, "in_progress", v.State)
		require.Len(t, v.Connected, 2)
		require.Equal(t, "clinician", v.You)
	})

	t.Run("an invited interpreter joins and receives both", func(t *testing.T) {
		var link app.SignInLink
		require.Equal(t, http.StatusCreated, apiCall(t, a, "POST", "/api/v1/visits/"+id+"/invite", doc1, `{"subject":"interp-es","role":"interpreter"}`, &link))
		lu, _ := url.Parse(link.URL)
		lq, _ := url.ParseQuery(strings.TrimPrefix(lu.Fragment, "/join?"))
		// A guest's link opens the visit, never a session in that name (a
		// clinician may invite any subject).
		require.Equal(t, http.StatusForbidden, apiCall(t, a, "POST", "/api/v1/visits/"+id+"/session", "", `{"code":"`+lq.Get("code")+`"}`, nil))
		var pv app.VisitView
		require.Equal(t, http.StatusOK, apiCall(t, a, "GET", "/api/v1/visits/"+id+"?join="+url.QueryEscape(lq.Get("code")), "", "", &pv))
		require.Equal(t, "interpreter", pv.You)
		interp := rtctest.Join(t, api, wsBase(a)+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(lq.Get("code")), "interp-es", nil)
		interp.Send(100)
		interp.WaitFor("p1", "audio", 30, 15*time.Second)
		interp.WaitFor("doc1", "video", 30, 15*time.Second)
		patient.WaitFor("interp-es", "audio", 30, 15*time.Second)
		interp.Close()
	})

	// A reading during the visit.
	devs["p1"].publish(batch(2, reading(vitals.HeartRate, 88, "/min", time.Now())))
	time.Sleep(1500 * time.Millisecond) // some interactive time

	var enc map[string]any
	t.Run("ending the visit attaches an Encounter, once", func(t *testing.T) {
		require.Equal(t, http.StatusForbidden, apiCall(t, a, "POST", "/api/v1/visits/"+id+"/end", doc3, `{"note":"x"}`, nil))
		require.Equal(t, http.StatusOK, apiCall(t, a, "POST", "/api/v1/visits/"+id+"/end", doc1, `{"note":"Stable; review <BP> in a week & call."}`, &enc))
		require.Equal(t, id, enc["id"])
		sums := enc["summaries"].([]any)
		byType := map[string]map[string]any{}
		for _, s := range sums {
			m := s.(map[string]any)
			byType[m["type"].(string)] = m
		}
		require.Equal(t, 2.0, byType["heart_rate"]["count"])
		require.Equal(t, 88.0, byType["heart_rate"]["last"])
		require.Equal(t, 72.0, byType["heart_rate"]["min"])
		require.InDelta(t, 37.0, byType["body_temperature"]["last"], 0.01, "stored in Cel")
		require.Equal(t, 82.0, byType["blood_pressure"]["last_diastolic"])
		// The media stops.
		require.Eventually(t, func() bool {
			before := clinician.From("p1", "video").Packets.Load()
			time.Sleep(300 * time.Millisecond)
			return clinician.From("p1", "video").Packets.Load() == before
		}, 10*time.Second, 100*time.Millisecond)
		var again map[string]any
		require.Equal(t, http.StatusOK, apiCall(t, a, "POST", "/api/v1/visits/"+id+"/attach", doc1, `{"note":"changed"}`, &again))
		require.Equal(t, enc["attached_at"], again["attached_at"], "attaching twice changes nothing")
		require.Equal(t, enc["note"], again["note"])
		var v app.VisitView
		require.Equal(t, http.StatusOK, apiCall(t, a, "GET", "/api/v1/visits/"+id, doc1, "", &v))
		require.Equal(t, "ended", v.State)
		require.GreaterOrEqual(t, v.InteractiveSeconds, 1, "interactive time counted")
		roles := map[string]bool{}
		for _, p := range v.Presence {
			roles[p.Role] = true
			require.False(t, p.LeftAt.IsZero())
		}
		require.Equal(t, map[string]bool{"patient": true, "clinician": true, "interpreter": true}, roles)
	})

	t.Run("the chart reads as valid FHIR R4 with the codes and units of the domain", func(t *testing.T) {
		e := fhirGet(t, a, doc1, "/fhir/r4/Encounter/"+id)
		require.Equal(t, "finished", e["status"])
		require.Equal(t, "VR", e["class"].(map[string]any)["code"])
		require.Contains(t, e["text"].(map[string]any)["div"], "review &lt;BP&gt; in a week &amp; call.")
		p := fhirGet(t, a, doc1, "/fhir/r4/Patient/p1")
		require.Equal(t, "1950-12-10", p["birthDate"])
		d := fhirGet(t, a, doc1, "/fhir/r4/Device/watch-p1")
		require.Equal(t, "Patient/p1", d["patient"].(map[string]any)["reference"])
		fhirGet(t, a, doc1, "/fhir/r4/Device?patient=p1")
		fhirGet(t, a, doc1, "/fhir/r4/Encounter?patient=p1")

		b := fhirGet(t, a, doc1, "/fhir/r4/Observation?patient=p1&_count=2")
		require.Equal(t, 5.0, b["total"])
		require.Len(t, b["entry"], 2)
		var next string
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
		require.NotEmpty(t, next, "a next page")
		nu, _ := url.Parse(next)
		b2 := fhirGet(t, a, doc1, nu.RequestURI())
		require.Len(t, b2["entry"], 2)

		want := map[string]struct{ codes, unit string }{
			"8867-4": {"8867-4", "/min"}, "2708-6": {"2708-6,59408-5", "%"}, "8310-5": {"8310-5", "Cel"}, "85354-9": {"85354-9", "mm[Hg]"},
		}
		all := fhirGet(t, a, doc1, "/fhir/r4/Observation?patient=p1")
		seen := map[string]bool{}
		for _, en := range all["entry"].([]any) {
			o := en.(map[string]any)["resource"].(map[string]any)
			var codes []string
			for _, c := range o["code"].(map[string]any)["coding"].([]any) {
				cm := c.(map[string]any)
				require.Equal(t, "http://loinc.org", cm["system"])
				codes = append(codes, cm["code"].(string))
			}
			w, ok := want[codes[0]]
			require.True(t, ok, "unexpected code %v", codes)
			seen[codes[0]] = true
			require.Equal(t, w.codes, strings.Join(codes, ","))
			cat := o["category"].([]any)[0].(map[string]any)["coding"].([]any)[0].(map[string]any)
			require.Equal(t, "vital-signs", cat["code"])
			require.Equal(t, "http://terminology.hl7.org/CodeSystem/observation-category", cat["system"])
			qty, _ := o["valueQuantity"].(map[string]any)
			if codes[0] == "85354-9" {
				comps := o["component"].([]any)
				require.Len(t, comps, 2)
				sys := comps[0].(map[string]any)
				require.Equal(t, "8480-6", sys["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"])
				qty = sys["valueQuantity"].(map[string]any)
				require.Equal(t, 128.0, qty["value"])
			}
			require.Equal(t, "http://unitsofmeasure.org", qty["system"])
			require.Equal(t, w.unit, qty["code"])
			// each Observation reads back by its id
			one := fhirGet(t, a, doc1, "/fhir/r4/Observation/"+o["id"].(string))
			require.Equal(t, o["effectiveDateTime"], one["effectiveDateTime"])
		}
		require.Len(t, seen, 4)

		ev := fhirGet(t, a, doc1, "/fhir/r4/Patient/p1/$everything")
		kinds := map[string]int{}
		withEnc := 0
		for _, en := range ev["entry"].([]any) {
			r := en.(map[string]any)["resource"].(map[string]any)
			kinds[r["resourceType"].(string)]++
			if r["encounter"] != nil {
				withEnc++
			}
		}
		require.Equal(t, map[string]int{"Patient": 1, "Device": 1, "Encounter": 1, "Observation": 5}, kinds)
		require.Equal(t, 5, withEnc, "the visit's window holds every reading")
	})

	t.Run("FHIR reads are access-checked and audited", func(t *testing.T) {
		for _, path := range []string{"/fhir/r4/Encounter/" + id, "/fhir/r4/Patient/p1", "/fhir/r4/Observation?patient=p1", "/fhir/r4/Patient/p1/$everything"} {
			require.Equal(t, http.StatusForbidden, apiCall(t, a, "GET", path, doc3, "", nil), path)
		}
		var n int
		require.NoError(t, a.RecordsDB().QueryRow(`SELECT count(*) FROM audit_events WHERE actor = 'doc3' AND action LIKE 'GET /fhir/r4/%' AND outcome = 'refused'`).Scan(&n))
		require.Equal(t, 4, n)
	})
}
