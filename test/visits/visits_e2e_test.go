package visits_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

func TestAVisitThroughTheSFUEndsInTheChartAsFHIR(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	s := harness.Start(t, cfg)
	devs := s.Ward(t)
	now := time.Now()
	// Readings of Ada in the look-back and during the visit.
	devs["p1"].Publish(harness.Batch(1,
		harness.Reading(vitals.HeartRate, 72, "/min", now.Add(-2*time.Hour)),
		harness.Reading(vitals.SpO2, 96, "%", now.Add(-90*time.Minute)),
		`{"type":"blood_pressure","systolic":128,"diastolic":82,"unit":"mm[Hg]","time":"`+now.Add(-time.Hour).UTC().Format(time.RFC3339Nano)+`"}`,
		harness.Reading(vitals.BodyTemperature, 98.6, "[degF]", now.Add(-time.Hour))))
	doc1 := s.Clinician("doc1")
	doc3 := s.Clinician("doc3")

	var created httpapi.VisitCreated
	require.Equal(t, http.StatusCreated, s.Call(t, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created))
	id := created.Visit.ID
	u, err := url.Parse(created.PatientLink.URL)
	require.NoError(t, err)
	q, err := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/join?"))
	require.NoError(t, err)
	code := q.Get("code")
	require.Equal(t, id, q.Get("visit"))

	t.Run("a clinician outside the care team can neither read nor join", func(t *testing.T) {
		require.Equal(t, http.StatusForbidden, s.Call(t, "GET", "/api/v1/visits/"+id, doc3, nil, nil))
		_, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+id, bearer(doc3))
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		refused := refusals(t, s, "doc3", "p1", func(string) bool { return true })
		require.Equal(t, 2, refused, "both refusals audited")
	})

	t.Run("a join link expires, and is good for its visit only", func(t *testing.T) {
		old, _ := s.Signer().MintUse("p1", auth.RolePatient, -time.Minute, "visit:"+id)
		_, resp, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(old), nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		var other httpapi.VisitCreated
		require.Equal(t, http.StatusCreated, s.Call(t, "POST", "/api/v1/patients/p2/visits", doc1, `{}`, &other))
		_, resp, err = websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+other.Visit.ID+"?join="+url.QueryEscape(code), nil)
		require.Error(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, http.StatusUnauthorized, s.Call(t, "GET", "/api/v1/me/patients", code, nil, nil), "not a bearer token")
	})

	t.Run("the patient waits in the waiting room, with no media, until a clinician admits them", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(code), nil)
		require.NoError(t, err)
		defer ws.Close()
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		read := func() telehealth.Message {
			var m telehealth.Message
			require.NoError(t, ws.ReadJSON(&m))
			return m
		}
		require.NoError(t, ws.WriteJSON(telehealth.Message{Type: "join"}))
		m := read()
		require.Equal(t, "waiting", m.Type, "%+v", m)
		require.False(t, m.HostPresent, "no clinician is in the call yet")
		var v httpapi.VisitView
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/visits/"+id, doc1, nil, &v))
		require.Equal(t, "waiting", v.State)
		require.Empty(t, v.Connected)
		require.Len(t, v.Waiting, 1)
		// Nothing of the call while waiting: no tracks, no chat, no admitting.
		for _, msg := range []telehealth.Message{{Type: "add_track", Kind: "video"}, {Type: "chat", Text: "hello?"}, {Type: "admit", Subject: "p1"}, {Type: "answer", SDP: "v=0"}} {
			require.NoError(t, ws.WriteJSON(msg))
			m := read()
			require.Equal(t, "error", m.Type, "%s while waiting: %+v", msg.Type, m)
			require.Contains(t, m.Error, "waiting room")
		}
		require.Equal(t, http.StatusForbidden, s.Call(t, "POST", "/api/v1/visits/"+id+"/admit", s.Patient("p1"), `{"subject":"p1"}`, nil),
			"a patient admits no one")
		require.Equal(t, http.StatusBadRequest, s.Call(t, "POST", "/api/v1/visits/"+id+"/admit", doc1, `{"subject":"`+strings.Repeat("x", 300)+`"}`, nil))
		var res httpapi.AdmitResult
		require.Equal(t, http.StatusOK, s.Call(t, "POST", "/api/v1/visits/"+id+"/admit", doc1, `{"subject":"p1"}`, &res))
		require.True(t, res.WasWaiting)
		require.Equal(t, "welcome", read().Type, "admitted: the call starts")
	})

	api := rtctest.API(t)
	// Admitted once, the patient enters directly when they come back.
	patient := rtctest.Join(t, api, s.WSURL()+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(code), "p1", nil)
	clinician := rtctest.Join(t, api, s.WSURL()+"/ws/v1/visits/"+id, "doc1", bearer(doc1))
	patient.Send(300)
	clinician.Send(300)

	t.Run("the patient and the clinician see and hear each other", func(t *testing.T) {
		patient.WaitFor("doc1", "video", 60, 15*time.Second)
		patient.WaitFor("doc1", "audio", 30, 15*time.Second)
		clinician.WaitFor("p1", "video", 60, 15*time.Second)
		clinician.WaitFor("p1", "audio", 30, 15*time.Second)
		var v httpapi.VisitView
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/visits/"+id, doc1, nil, &v))
		require.Equal(t, "in_progress", v.State)
		require.Len(t, v.Connected, 2)
		require.Equal(t, "clinician", v.You)
	})

	t.Run("an invited interpreter joins and receives both", func(t *testing.T) {
		var link httpapi.SignInLink
		require.Equal(t, http.StatusCreated, s.Call(t, "POST", "/api/v1/visits/"+id+"/invite", doc1, `{"subject":"interp-es","role":"interpreter"}`, &link))
		lu, _ := url.Parse(link.URL)
		lq, _ := url.ParseQuery(strings.TrimPrefix(lu.Fragment, "/join?"))
		// A guest's link opens the visit, never a session in that name (a
		// clinician may invite any subject).
		require.Equal(t, http.StatusForbidden, s.Call(t, "POST", "/api/v1/visits/"+id+"/session", "", `{"code":"`+lq.Get("code")+`"}`, nil))
		var pv httpapi.VisitView
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/visits/"+id+"?join="+url.QueryEscape(lq.Get("code")), "", nil, &pv))
		require.Equal(t, "interpreter", pv.You)
		var res httpapi.AdmitResult
		require.Equal(t, http.StatusOK, s.Call(t, "POST", "/api/v1/visits/"+id+"/admit", doc1, `{"subject":"interp-es"}`, &res))
		require.False(t, res.WasWaiting, "admitted ahead of arriving")
		interp := rtctest.Join(t, api, s.WSURL()+"/ws/v1/visits/"+id+"?join="+url.QueryEscape(lq.Get("code")), "interp-es", nil)
		interp.Send(100)
		interp.WaitFor("p1", "audio", 30, 15*time.Second)
		interp.WaitFor("doc1", "video", 30, 15*time.Second)
		patient.WaitFor("interp-es", "audio", 30, 15*time.Second)
		interp.Close()
	})

	// A reading during the visit.
	devs["p1"].Publish(harness.Batch(2, harness.Reading(vitals.HeartRate, 88, "/min", time.Now())))
	time.Sleep(1500 * time.Millisecond) // some interactive time

	var enc map[string]any
	t.Run("ending the visit attaches an Encounter, once", func(t *testing.T) {
		require.Equal(t, http.StatusForbidden, s.Call(t, "POST", "/api/v1/visits/"+id+"/end", doc3, `{"note":"x"}`, nil))
		require.Equal(t, http.StatusOK, s.Call(t, "POST", "/api/v1/visits/"+id+"/end", doc1, `{"note":"Stable; review <BP> in a week & call."}`, &enc))
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
		require.Equal(t, http.StatusOK, s.Call(t, "POST", "/api/v1/visits/"+id+"/attach", doc1, `{"note":"changed"}`, &again))
		require.Equal(t, enc["attached_at"], again["attached_at"], "attaching twice changes nothing")
		require.Equal(t, enc["note"], again["note"])
		var v httpapi.VisitView
		require.Equal(t, http.StatusOK, s.Call(t, "GET", "/api/v1/visits/"+id, doc1, nil, &v))
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
		e := fhirGet(t, s, doc1, "/fhir/r4/Encounter/"+id)
		require.Equal(t, "finished", e["status"])
		require.Equal(t, "VR", e["class"].(map[string]any)["code"])
		require.Contains(t, e["text"].(map[string]any)["div"], "review &lt;BP&gt; in a week &amp; call.")
		p := fhirGet(t, s, doc1, "/fhir/r4/Patient/p1")
		require.Equal(t, "1950-12-10", p["birthDate"])
		d := fhirGet(t, s, doc1, "/fhir/r4/Device/watch-p1")
		require.Equal(t, "Patient/p1", d["patient"].(map[string]any)["reference"])
		fhirGet(t, s, doc1, "/fhir/r4/Device?patient=p1")
		fhirGet(t, s, doc1, "/fhir/r4/Encounter?patient=p1")

		b := fhirGet(t, s, doc1, "/fhir/r4/Observation?patient=p1&_count=2")
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
		b2 := fhirGet(t, s, doc1, nu.RequestURI())
		require.Len(t, b2["entry"], 2)

		want := map[string]struct{ codes, unit string }{
			"8867-4": {"8867-4", "/min"}, "2708-6": {"2708-6,59408-5", "%"}, "8310-5": {"8310-5", "Cel"}, "85354-9": {"85354-9", "mm[Hg]"},
		}
		all := fhirGet(t, s, doc1, "/fhir/r4/Observation?patient=p1")
		seen := map[string]bool{}
		for _, en := range all["entry"].([]any) {
			o := en.(map[string]any)["resource"].(map[string]any)
			var codes []string
			for _, c := range o["code"].(map[string]any)["coding"].([]any) {
				cm := c.(map[string]any)
				// LOINC, as the vital-signs profile requires, and beside it
				// the IEEE 11073 code a Bluetooth device would send.
				if cm["system"] == "urn:iso:std:iso:11073:10101" {
					continue
				}
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
			one := fhirGet(t, s, doc1, "/fhir/r4/Observation/"+o["id"].(string))
			require.Equal(t, o["effectiveDateTime"], one["effectiveDateTime"])
		}
		require.Len(t, seen, 4)

		ev := fhirGet(t, s, doc1, "/fhir/r4/Patient/p1/$everything")
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
			require.Equal(t, http.StatusForbidden, s.Call(t, "GET", path, doc3, nil, nil), path)
		}
		n := refusals(t, s, "doc3", "", func(action string) bool { return strings.HasPrefix(action, "GET /fhir/r4/") })
		require.Equal(t, 4, n)
	})
}
