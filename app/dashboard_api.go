package app

import (
	"net/http"
	"sort"
	"time"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
	"github.com/vitalwire/vitalwire/web"
)

// ScoreJSON is a NEWS2 score in API answers and live messages.
type ScoreJSON struct {
	Total   int    `json:"total"`
	Band    string `json:"band"`
	Partial bool   `json:"partial,omitempty"`
	Red     bool   `json:"single_3,omitempty"`
}

func scoreJSON(s news2.Score) *ScoreJSON {
	return &ScoreJSON{Total: s.Total, Band: string(s.Band), Partial: s.Partial, Red: s.Red}
}

// DeviceTile is a device's state on a dashboard tile.
type DeviceTile struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Online   bool      `json:"online"`
	Battery  *float64  `json:"battery,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Tile is one patient on the care team's dashboard.
type Tile struct {
	Patient chart.Patient                   `json:"patient"`
	Latest  []ReadingJSON                   `json:"latest"`
	Spark   map[vitals.Type][]vitals.Window `json:"spark"` // the last hour, per minute
	NEWS2   *ScoreJSON                      `json:"news2,omitempty"`
	Devices []DeviceTile                    `json:"devices"`
	Alerts  []alerts.Alert                  `json:"alerts"`
}

// sparkVitals are drawn as one-hour sparklines on a tile.
var sparkVitals = []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate}

// dashboard answers the tiles of the caller's patients: a clinician's care
// teams, a patient's own; an admin has none (break-glass is per patient).
// Each patient's read is decided by the policy and audited.
func (a *App) dashboard(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	ids := a.patientsOf(c)
	now := time.Now()
	bound := map[string][]DeviceTile{}
	for _, d := range a.Devices.List() {
		if p, ok := d.Patient(now); ok && d.RevokedAt.IsZero() {
			bound[p] = append(bound[p], deviceTile(d))
		}
	}
	open, err := a.Alerts.Store().List(r.Context(), ids, true, 2000)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	byPatient := map[string][]alerts.Alert{}
	for _, al := range open {
		byPatient[al.Patient] = append(byPatient[al.Patient], al)
	}
	tiles := []Tile{}
	for _, id := range ids {
		d, ev := a.decide(r, c, id, "GET /api/v1/dashboard", r.URL.Path)
		if !a.audited(w, r, ev) {
			return
		}
		if !d.Allowed {
			continue
		}
		p, err := a.Chart.Patient(r.Context(), id)
		if err != nil {
			p = chart.Patient{ID: id} // bound to a device, not charted
		}
		t := Tile{Patient: p, Latest: []ReadingJSON{}, Spark: map[vitals.Type][]vitals.Window{},
			Devices: bound[id], Alerts: byPatient[id]}
		if t.Devices == nil {
			t.Devices = []DeviceTile{}
		}
		if t.Alerts == nil {
			t.Alerts = []alerts.Alert{}
		}
		latest, err := a.Store.Latest(r.Context(), id)
		if err != nil {
			a.log.Error().Err(err).Msg("dashboard latest failed")
			fail(w, http.StatusServiceUnavailable, "store unavailable")
			return
		}
		for _, x := range latest {
			t.Latest = append(t.Latest, readingJSON(x))
		}
		for _, typ := range sparkVitals {
			ws, err := a.Store.Aggregate(r.Context(), vitals.AggregateQuery{Every: time.Minute,
				Query: vitals.Query{Patient: id, Type: typ, From: now.Add(-time.Hour), To: now.Add(time.Minute)}})
			if err != nil {
				fail(w, http.StatusServiceUnavailable, "store unavailable")
				return
			}
			if len(ws) > 0 {
				t.Spark[typ] = ws
			}
		}
		if s, ok := a.Alerts.Score(id); ok {
			t.NEWS2 = scoreJSON(s)
		}
		tiles = append(tiles, t)
	}
	sort.SliceStable(tiles, func(i, j int) bool { return urgency(tiles[i]) > urgency(tiles[j]) })
	writeJSON(w, http.StatusOK, map[string]any{"subject": c.Subject, "role": c.Role, "tiles": tiles})
}

var severityRank = map[string]int{"critical": 4, "high": 3, "medium": 2, "low": 1}

// urgency orders tiles: the worst open alert first (unacknowledged before
// acknowledged), then the NEWS2 total.
func urgency(t Tile) int {
	u := 0
	for _, al := range t.Alerts {
		v := severityRank[al.Severity] * 100
		if al.State == "firing" {
			v += 50
		}
		u = max(u, v)
	}
	if t.NEWS2 != nil {
		u += t.NEWS2.Total
	}
	return u
}

func deviceTile(d devices.Device) DeviceTile {
	return DeviceTile{ID: d.ID, Kind: d.Kind, Online: d.Status.Online, Battery: d.Status.Battery, LastSeen: d.Status.LastSeen}
}

// patientDevices lists the devices bound to the patient now.
func (a *App) patientDevices(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	out := []DeviceTile{}
	for _, d := range a.Devices.List() {
		if p, ok := d.Patient(now); ok && p == r.PathValue("id") {
			out = append(out, deviceTile(d))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// RuleJSON is a rule as the UI draws it.
type RuleJSON struct {
	ID        string      `json:"id"`
	Kind      string      `json:"kind"`
	Vital     vitals.Type `json:"vital,omitempty"`
	Severity  string      `json:"severity"`
	Level     *float64    `json:"level,omitempty"`
	Direction string      `json:"direction,omitempty"` // above or below
	For       string      `json:"for,omitempty"`
	SpO2Scale int         `json:"spo2_scale,omitempty"`
}

func (a *App) listRules(w http.ResponseWriter, _ *http.Request) {
	out := []RuleJSON{}
	for _, r := range a.engine.Rules().Rules {
		j := RuleJSON{ID: r.ID, Kind: r.Kind, Vital: r.Vital, Severity: r.Severity, SpO2Scale: r.SpO2Scale}
		switch {
		case r.Above != nil:
			j.Level, j.Direction = r.Above, "above"
		case r.AtOrAbove != nil:
			j.Level, j.Direction = r.AtOrAbove, "above"
		case r.Below != nil:
			j.Level, j.Direction = r.Below, "below"
		case r.AtOrBelow != nil:
			j.Level, j.Direction = r.AtOrBelow, "below"
		}
		if r.For > 0 {
			j.For = r.For.String()
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

var webFiles = web.Handler()

// webUI serves the browser UI's files; they hold no patient data, which
// comes only through the access-checked API.
func (a *App) webUI(w http.ResponseWriter, r *http.Request) { webFiles.ServeHTTP(w, r) }
