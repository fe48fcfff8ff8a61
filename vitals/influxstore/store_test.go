package influxstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

func TestStoreContractOnRealInfluxDB(t *testing.T) {
	in := testenv.StartInflux(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) vitals.Store {
		// A fresh database per subtest keeps them independent.
		db := fmt.Sprintf("contract%d", n.Add(1))
		in.CreateDatabase(t, db)
		s, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: db + "/autogen"})
		require.NoError(t, err)
		require.NoError(t, s.Ping(context.Background()))
		return s
	})

	t.Run("the Flux fallback counts the same days as InfluxQL", func(t *testing.T) {
		in.CreateDatabase(t, "fallback")
		s, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: "fallback/autogen"})
		require.NoError(t, err)
		defer s.Close()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		from := time.Date(2026, 10, 30, 0, 0, 0, 0, ny)
		var batch []vitals.Reading
		for h := 0; h < 96; h += 7 { // across New York's change of offset
			batch = append(batch, storetest.Reading("p1", "d1", vitals.HeartRate, from.Add(time.Duration(h)*time.Hour), 70))
			batch = append(batch, storetest.Reading("p2", "d2", vitals.SpO2, from.Add(time.Duration(h+3)*time.Hour), 97))
		}
		require.NoError(t, s.Write(context.Background(), batch))
		q := vitals.DaysQuery{Patients: []string{"p1", "p2"}, From: from, To: from.AddDate(0, 0, 4), Location: ny}
		viaQL, err := s.DaysWithData(context.Background(), q)
		require.NoError(t, err)
		viaFlux, err := influxstore.DaysFlux(s, context.Background(), q)
		require.NoError(t, err)
		require.Len(t, viaQL["p1"], 4)
		require.Equal(t, viaQL, viaFlux)
	})
}

// Where /query does not answer InfluxQL (a 2.x bucket without a v1
// mapping), the reads fall back to Flux and answer the same.
func TestReadsFallBackToFluxWhereInfluxQLIsRefused(t *testing.T) {
	in := testenv.StartInflux(t)
	in.CreateDatabase(t, "fallbacks")
	target, err := url.Parse(in.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/query" {
			refused.Add(1)
			http.Error(w, `{"error":"database not found"}`, http.StatusNotFound)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ql, err := influxstore.New(influxstore.Config{URL: in.URL, Org: in.Org, Bucket: "fallbacks/autogen"})
	require.NoError(t, err)
	defer ql.Close()
	flux, err := influxstore.New(influxstore.Config{URL: srv.URL, Org: in.Org, Bucket: "fallbacks/autogen"})
	require.NoError(t, err)
	defer flux.Close()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	bp := storetest.Reading("p1", "cuff", vitals.BloodPressure, now.Add(-50*24*time.Hour), 118)
	bp.Diastolic = 76
	var batch []vitals.Reading
	for m := 0; m < 30; m++ {
		batch = append(batch, storetest.Reading("p1", "w", vitals.HeartRate, now.Add(-time.Duration(m)*time.Minute), float64(60+m%7)),
			storetest.Reading("p2", "w2", vitals.SpO2, now.Add(-time.Duration(m)*time.Minute-40*24*time.Hour), 95))
	}
	require.NoError(t, ql.Write(ctx, append(batch, bp)))

	want, err := ql.LatestOf(ctx, []string{"p1", "p2"})
	require.NoError(t, err)
	got, err := flux.LatestOf(ctx, []string{"p1", "p2"})
	require.NoError(t, err)
	require.Equal(t, want, got, "latest")
	require.Len(t, got["p1"], 2)

	q := vitals.PatientsQuery{Patients: []string{"p1", "p2"}, Types: []vitals.Type{vitals.HeartRate}, From: now.Add(-time.Hour), To: now.Add(time.Minute)}
	wantR, err := ql.RangeOf(ctx, q)
	require.NoError(t, err)
	gotR, err := flux.RangeOf(ctx, q)
	require.NoError(t, err)
	require.Equal(t, wantR, gotR, "range")
	require.Len(t, gotR["p1"], 30)

	aq := vitals.PatientsAggregateQuery{Every: 5 * time.Minute, PatientsQuery: q}
	wantA, err := ql.AggregateOf(ctx, aq)
	require.NoError(t, err)
	gotA, err := flux.AggregateOf(ctx, aq)
	require.NoError(t, err)
	require.Equal(t, len(wantA["p1"][vitals.HeartRate]), len(gotA["p1"][vitals.HeartRate]), "aggregate")
	for i, w := range wantA["p1"][vitals.HeartRate] {
		g := gotA["p1"][vitals.HeartRate][i]
		require.True(t, w.Start.Equal(g.Start))
		require.Equal(t, w.Count, g.Count)
		require.InDelta(t, w.Mean, g.Mean, 1e-9)
	}
	require.Positive(t, refused.Load(), "the reads tried InfluxQL first")
}

func TestWriteToAStoppedServerSaysUnavailable(t *testing.T) {
	in := testenv.StartInflux(t)
	s, err := influxstore.New(influxstore.Config{URL: in.URL, Bucket: in.Bucket, Retries: 1})
	require.NoError(t, err)
	defer s.Close()
	in.Stop()
	err = s.Write(context.Background(), []vitals.Reading{storetest.Reading("p", "d", vitals.HeartRate, storetest.Now(), 60)})
	require.ErrorIs(t, err, vitals.ErrUnavailable)
}

// queryLog is a proxy in front of InfluxDB that keeps the text of every
// query (InfluxQL on /query, Flux on /api/v2/query).
type queryLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *queryLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

func startQueryLog(t *testing.T, target string) (*queryLog, string) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	l := &queryLog{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "query") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			text := string(body)
			if r.URL.Path == "/query" {
				form, _ := url.ParseQuery(text)
				text = form.Get("q") + r.URL.Query().Get("q")
			}
			l.mu.Lock()
			l.queries = append(l.queries, text)
			l.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return l, srv.URL
}

func TestLatestReadsBoundedRangesNotTheWholeHistory(t *testing.T) {
	in := testenv.StartInflux(t)
	in.CreateDatabase(t, "bounded")
	log, proxyURL := startQueryLog(t, in.URL)
	s, err := influxstore.New(influxstore.Config{URL: proxyURL, Org: in.Org, Bucket: "bounded/autogen"})
	require.NoError(t, err)
	defer s.Close()
	now := time.Now().UTC()
	var batch []vitals.Reading
	for d := 0; d < 60; d++ { // two months of history
		for _, typ := range vitals.Types() {
			batch = append(batch, storetest.Reading("p1", "d-"+string(typ), typ, now.Add(-time.Duration(d)*24*time.Hour-time.Hour), 50))
		}
	}
	require.NoError(t, s.Write(context.Background(), batch))
	log.take()

	got, err := s.Latest(context.Background(), "p1")
	require.NoError(t, err)
	require.Len(t, got, len(vitals.Types()))
	qs := log.take()
	require.Len(t, qs, 1, "every type is in the first range: one query")
	from := regexp.MustCompile(`time >= (-?\d+)`).FindStringSubmatch(qs[0])
	require.NotNil(t, from, "the query has a lower time bound: %s", qs[0])
	lo, err := strconv.ParseInt(from[1], 10, 64)
	require.NoError(t, err)
	require.Greater(t, lo, now.Add(-48*time.Hour).UnixNano(), "the first range is the last day and a half, not the history")

	// A patient with nothing near now: the ranges widen, a few queries,
	// each bounded.
	_, err = s.Latest(context.Background(), "nobody")
	require.NoError(t, err)
	qs = log.take()
	require.LessOrEqual(t, len(qs), len(vitals.LatestSteps)+1)
	for _, q := range qs {
		require.Regexp(t, `time >= -?\d+ AND time < \d+`, q)
	}
}
