package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

// readCounter counts every read the handlers make of the store.
type readCounter struct {
	vitals.Store
	reads atomic.Int64
}

func (c *readCounter) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	c.reads.Add(1)
	return c.Store.Range(ctx, q)
}

func (c *readCounter) Latest(ctx context.Context, p string) ([]vitals.Reading, error) {
	c.reads.Add(1)
	return c.Store.Latest(ctx, p)
}

func (c *readCounter) Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	c.reads.Add(1)
	return c.Store.Aggregate(ctx, q)
}

func (c *readCounter) LatestOf(ctx context.Context, ps []string) (map[string][]vitals.Reading, error) {
	c.reads.Add(1)
	return c.Store.LatestOf(ctx, ps)
}

func (c *readCounter) AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	c.reads.Add(1)
	return c.Store.AggregateOf(ctx, q)
}

// A care team's dashboard reads the store a few times for the whole
// team, not four times a patient, and its tiles show what each patient's
// own reads show.
func TestADashboardLoadReadsTheTeamsTilesInTwoQueries(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	require.NoError(t, f.d.Chart.AddTeam(ctx, "ward", "Ward"))
	require.NoError(t, f.d.Chart.AddMember(ctx, "ward", "clinician", "doc"))
	now := time.Now().UTC()
	const n = 120
	var batch []vitals.Reading
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("dp-%03d", i)
		f.addPatient(t, p)
		require.NoError(t, f.d.Chart.AddMember(ctx, "ward", "patient", p))
		for m := 0; m < 55; m += 3 { // within the hour, away from its edge
			batch = append(batch, storetest.Reading(p, "w-"+p, vitals.HeartRate, now.Add(-time.Duration(m)*time.Minute), float64(60+i%20+m%7)))
			if i%2 == 0 {
				batch = append(batch, storetest.Reading(p, "o-"+p, vitals.SpO2, now.Add(-time.Duration(m)*time.Minute-time.Second), 95))
			}
		}
		if i%3 == 0 {
			batch = append(batch, storetest.Reading(p, "s-"+p, vitals.BodyWeight, now.Add(-10*24*time.Hour), 80))
		}
	}
	require.NoError(t, f.d.Store.Write(ctx, batch))
	rec := &readCounter{Store: f.d.Store}
	d := f.d
	d.Store = rec
	h, err := New(d)
	require.NoError(t, err)

	req := httptest.NewRequest("GET", "/api/v1/dashboard", nil)
	req.Header.Set("Authorization", "Bearer "+f.mint("doc", auth.RoleClinician))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.LessOrEqual(t, rec.reads.Load(), int64(2), "store reads for one load of %d tiles", n)

	var dash Dashboard
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &dash))
	require.Len(t, dash.Tiles, n)
	for _, tile := range dash.Tiles {
		id := tile.Patient.ID
		latest, err := f.d.Store.Latest(ctx, id)
		require.NoError(t, err)
		require.Len(t, tile.Latest, len(latest), id)
		for k, r := range latest {
			require.Equal(t, ReadingOf(r).Value, tile.Latest[k].Value, id)
			require.Equal(t, ReadingOf(r).Type, tile.Latest[k].Type, id)
		}
		for _, typ := range sparkVitals {
			ws, err := f.d.Store.Aggregate(ctx, vitals.AggregateQuery{Every: time.Minute,
				Query: vitals.Query{Patient: id, Type: typ, From: now.Add(-time.Hour), To: now.Add(time.Minute)}})
			require.NoError(t, err)
			require.Len(t, tile.Spark[typ], len(ws), "%s %s", id, typ)
		}
	}
}
