package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

// Past a chunk, and with chunks that end inside an instant of two
// devices, a glucose-code read keeps every reading of the kind asked,
// once, newest first.
func TestAGlucoseCodeReadKeepsEveryReadingOfItsKindAcrossChunks(t *testing.T) {
	a := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	for id, kind := range map[string]string{"cgm-1": "cgm", "gm-1": "glucometer", "hub-1": ""} {
		_, err := a.d.Devices.Add(ctx, id, kind)
		require.NoError(t, err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var batch []vitals.Reading
	// 1,501 instants: the CGM at each, the glucometer at every third
	// (so chunks of 1,000 end inside shared instants), the hub at every 7th.
	const instants = 1501
	wantCGM := 0
	for i := range instants {
		at := start.Add(time.Duration(i) * time.Minute)
		batch = append(batch, vitals.Reading{Device: "cgm-1", Patient: "p1", Type: vitals.BloodGlucose, Time: at, Value: 100, Unit: "mg/dL"})
		wantCGM++
		if i%3 == 0 {
			batch = append(batch, vitals.Reading{Device: "gm-1", Patient: "p1", Type: vitals.BloodGlucose, Time: at, Value: 110, Unit: "mg/dL"})
		}
		if i%7 == 0 {
			batch = append(batch, vitals.Reading{Device: "hub-1", Patient: "p1", Type: vitals.BloodGlucose, Time: at, Value: 120, Unit: "mg/dL"})
		}
	}
	require.NoError(t, a.d.Store.Write(ctx, batch))
	q := vitals.Query{Patient: "p1", Type: vitals.BloodGlucose, From: start, To: start.Add(instants * time.Minute)}

	for _, tc := range []struct {
		name  string
		codes []string
		want  int
	}{
		{"the CGM code keeps the CGM's", []string{"99504-3"}, wantCGM},
		{"the glucometer code keeps the glucometer's", []string{"41653-7"}, (instants + 2) / 3},
		{"the blood code keeps the other kinds'", []string{"2339-0"}, (instants + 6) / 7},
		{"two codes keep both kinds", []string{"99504-3", "41653-7"}, wantCGM + (instants+2)/3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kinds glucoseKinds
			for _, c := range tc.codes {
				kinds = addGlucoseCode(kinds, c)
			}
			s := keptStore{Store: a.d.Store, kinds: kinds, devices: a.d.Devices}
			n, err := s.count(ctx, q)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
			rq := q
			rq.Newest, rq.Limit = true, tc.want+10
			rs, err := s.Range(ctx, rq)
			require.NoError(t, err)
			require.Len(t, rs, tc.want)
			seen := map[string]bool{}
			for i, r := range rs {
				k := r.Device + r.Time.String()
				require.False(t, seen[k], "a reading twice: %s", k)
				seen[k] = true
				if i > 0 {
					require.False(t, r.Time.After(rs[i-1].Time), "newest first")
				}
			}
			rq.Limit = 5
			rs, err = s.Range(ctx, rq)
			require.NoError(t, err)
			require.Len(t, rs, 5)
		})
	}
}
