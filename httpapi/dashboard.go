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
	tiles := []Tile{}
	for _, id := range ids {
		d, err := a.gate.Patient(r.Context(), c, id, request(r, "GET /api/v1/dashboard"))
		if err != nil {
			a.auditFailed(w, err)
			return
		}
		if !d.Allowed {
			continue
		}
		t, err := a.tile(r, id, now, bound[id], byPatient[id])
		if err != nil {
			storeFailed(w, a.log, "dashboard tile", err)
			return
		}
		tiles = append(tiles, t)
	}
	sort.SliceStable(tiles, func(i, j int) bool { return tiles[i].Urgency > tiles[j].Urgency })
	writeJSON(w, http.StatusOK, Dashboard{Subject: c.Subject, Role: c.Role, Tiles: tiles})
}

func (a dashboardAPI) tile(r *http.Request, id string, now time.Time, devs []DeviceTile, open []alerts.Alert) (Tile, error) {
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
	latest, err := a.store.Latest(r.Context(), id)
	if err != nil {
		return t, err
	}
	for _, x := range latest {
		t.Latest = append(t.Latest, ReadingOf(x))
	}
	for _, typ := range sparkVitals {
		ws, err := a.store.Aggregate(r.Context(), vitals.AggregateQuery{Every: time.Minute,
			Query: vitals.Query{Patient: id, Type: typ, From: now.Add(-time.Hour), To: now.Add(time.Minute)}})
		if err != nil {
			return t, err
		}
		if len(ws) > 0 {
			t.Spark[typ] = ws
		}
	}
	total := 0
	if s, ok := a.alerts.Score(id); ok {
		t.NEWS2 = ScoreOf(s)
		total = s.Total
	}
	t.Urgency = alerts.Urgency(open, total)
	return t, nil
}
