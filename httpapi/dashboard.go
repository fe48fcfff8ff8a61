package httpapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/vitals"
)

// dashboardAPI builds a care team's dashboard: a tile per patient.
type dashboardAPI struct {
	access
	chart   *chart.Chart
	devices *devices.Registry
	store   vitals.Store
	alerts  *alerts.Service
	log     zerolog.Logger
}

// sparkVitals are drawn as one-hour sparklines on a tile.
var sparkVitals = []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate}

// dashboard answers the tiles of the caller's patients, most urgent
// first: a clinician's care teams, a patient's own; an admin has none
// (break-glass is per patient). The gate decides and audits each
// patient's read.
func (a dashboardAPI) dashboard(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.FromContext(r.Context())
	ids := patientsOf(a.chart, c)
	now := time.Now()
	bound := boundTiles(a.devices, now, false)
	open, err := a.alerts.List(r.Context(), ids, true, 2000)
	if err != nil {
		failErr(w, err)
		return
	}
	byPatient := map[string][]alerts.Alert{}
	for _, al := range open {
		byPatient[al.Patient] = append(byPatient[al.Patient], al)
	}
	var allowed []string
	for _, id := range ids {
		d, err := a.gate.Patient(r.Context(), c, id, request(r, "GET /api/v1/dashboard"))
		if err != nil {
			a.auditFailed(w, err)
			return
		}
		if d.Allowed {
			allowed = append(allowed, id)
		}
	}
	tiles := []Tile{}
	if len(allowed) > 0 {
		// The tiles' readings in two reads for the whole team (the store
		// cuts a large one into chunks), not four a patient.
		latest, err := a.store.LatestOf(r.Context(), allowed)
		if err != nil {
			storeFailed(w, a.log, "dashboard tiles", err)
			return
		}
		spark, err := a.store.AggregateOf(r.Context(), vitals.PatientsAggregateQuery{Every: time.Minute,
			PatientsQuery: vitals.PatientsQuery{Patients: allowed, Types: sparkVitals, From: now.Add(-time.Hour), To: now.Add(time.Minute)}})
		if err != nil {
			storeFailed(w, a.log, "dashboard tiles", err)
			return
		}
		for _, id := range allowed {
			tiles = append(tiles, a.tile(r, id, bound[id], byPatient[id], latest[id], spark[id]))
		}
	}
	sort.SliceStable(tiles, func(i, j int) bool { return tiles[i].Urgency > tiles[j].Urgency })
	writeJSON(w, http.StatusOK, Dashboard{Subject: c.Subject, Role: c.Role, Tiles: tiles})
}

// tile is a patient's tile from the team's reads.
func (a dashboardAPI) tile(r *http.Request, id string, devs []DeviceTile, open []alerts.Alert, latest []vitals.Reading, spark map[vitals.Type][]vitals.Window) Tile {
	p, err := a.chart.Patient(r.Context(), id)
	if err != nil {
		p = chart.Patient{ID: id} // bound to a device, not charted
	}
	t := Tile{Patient: p, Latest: []Reading{}, Spark: map[vitals.Type][]vitals.Window{}, Devices: devs, Alerts: open}
	if t.Devices == nil {
		t.Devices = []DeviceTile{}
	}
	if t.Alerts == nil {
		t.Alerts = []alerts.Alert{}
	}
	for _, x := range latest {
		t.Latest = append(t.Latest, ReadingOf(x))
	}
	for _, typ := range sparkVitals {
		if ws := spark[typ]; len(ws) > 0 {
			t.Spark[typ] = ws
		}
	}
	total := 0
	if s, ok := a.alerts.Score(id); ok {
		t.NEWS2 = ScoreOf(s)
		total = s.Total
	}
	t.Urgency = alerts.Urgency(open, total)
	return t
}
