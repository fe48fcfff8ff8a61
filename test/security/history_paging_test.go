package security

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// A whole history read in one answer costs the server memory and time in
// proportion to the history: reads of a patient's history answer a page
// at a time, with a link to the next.
func TestWholeHistoryReadsAnswerAPageAtATime(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	// Page sizes that end pages inside an instant of two devices' readings.
	cfg.API = httpapi.PageConfig{Size: 41, MaxSize: 100}
	s := harness.Start(t, cfg)
	devs := s.Ward(t)
	patch := harness.Connect(t, s.BrokerURL(), "patch-p1", s.AddDevice(t, "patch-p1", "p1"))
	// 150 heart rates from each of two devices at the same instants, and
	// 50 SpO2 readings: 350 readings.
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	for _, d := range []*harness.Device{devs["p1"], patch} {
		var rs []string
		for i := range 150 {
			rs = append(rs, harness.Reading(vitals.HeartRate, float64(60+i%40), "/min", start.Add(time.Duration(i)*time.Minute)))
		}
		d.Publish(harness.Batch(1, rs...))
	}
	var spo2 []string
	for i := range 50 {
		spo2 = append(spo2, harness.Reading(vitals.SpO2, 97, "%", start.Add(time.Duration(i)*time.Minute+time.Second)))
	}
	devs["p1"].Publish(harness.Batch(2, spo2...))
	const total = 350
	doc1 := s.Clinician("doc1")
	key := func(device, typ string, at time.Time) string {
		return fmt.Sprintf("%s/%s/%d", device, typ, at.UnixNano())
	}

	t.Run("the readings API: since=1000000h answers a page and a next link, and the pages hold every reading once", func(t *testing.T) {
		seen := map[string]bool{}
		next := "/api/v1/patients/p1/readings?since=1000000h"
		pages := 0
		for next != "" {
			var page httpapi.Readings
			s.MustCall(t, http.StatusOK, "GET", next, doc1, nil, &page)
			require.LessOrEqual(t, len(page.Readings), 41, "a page holds at most the page size")
			for _, r := range page.Readings {
				k := key(r.Device, string(r.Type), r.Time)
				require.False(t, seen[k], "reading %s on two pages", k)
				seen[k] = true
			}
			next = page.Next
			pages++
			require.Less(t, pages, 50)
		}
		require.Len(t, seen, total)
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/patients/p1/readings?since=1000000h&limit=101", doc1, nil, nil))
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/api/v1/patients/p1/readings?since=1h&cursor=heart_rate.x", doc1, nil, nil))
	})

	// fhirPages follows a searchset's next links and returns its
	// Observations' ids and each page's size.
	fhirPages := func(t *testing.T, path string) (ids map[string]bool, sizes []int) {
		ids = map[string]bool{}
		for path != "" {
			var b struct {
				Link  []struct{ Relation, URL string }
				Entry []struct {
					Resource struct{ ResourceType, ID string }
				}
			}
			s.MustCall(t, http.StatusOK, "GET", path, doc1, nil, &b)
			n := 0
			for _, e := range b.Entry {
				if e.Resource.ResourceType == "Observation" {
					require.False(t, ids[e.Resource.ID], "Observation %s on two pages", e.Resource.ID)
					ids[e.Resource.ID] = true
					n++
				}
			}
			sizes = append(sizes, n)
			path = ""
			for _, l := range b.Link {
				if l.Relation == "next" {
					u, err := url.Parse(l.URL)
					require.NoError(t, err)
					path = u.RequestURI()
				}
			}
			require.Less(t, len(sizes), 50)
		}
		return ids, sizes
	}

	t.Run("FHIR Observation date=ge1900 pages with next links", func(t *testing.T) {
		ids, sizes := fhirPages(t, "/fhir/r4/Observation?patient=p1&date=ge1900-01-01&_count=33")
		require.Len(t, ids, total)
		for _, n := range sizes {
			require.LessOrEqual(t, n, 33)
		}
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/fhir/r4/Observation?patient=p1&date=ge1900-01-01&_count=1000", doc1, nil, nil))
	})

	t.Run("FHIR $everything pages its Observations with next links", func(t *testing.T) {
		ids, sizes := fhirPages(t, "/fhir/r4/Patient/p1/$everything?start=1900-01-01")
		require.Len(t, ids, total)
		require.Greater(t, len(sizes), 1, "more than one page")
		for _, n := range sizes {
			require.LessOrEqual(t, n, 41, "the default page size")
		}
		require.Equal(t, http.StatusBadRequest, s.Call(t, "GET", "/fhir/r4/Patient/p1/$everything?_count=10000", doc1, nil, nil))
	})
	require.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"))
}
