package influxstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vitalwire/vitalwire/vitals"
)

// Reads across patients, in InfluxQL over the /query API (the v1 API that
// InfluxDB 1.8, 2.x with a DBRP mapping, Cloud and 3 all serve; Flux is
// not served by InfluxDB 3). Each query names a chunk of patients (the
// tag index finds their series) and a time range; the values come back
// in one JSON answer per query. Where /query does not answer (a 2.x
// bucket without a v1 mapping), each falls back to the Flux reads, one
// patient at a time.

// manyChunk is how many patients one InfluxQL query of the reads across
// patients names (as daysChunk).
const manyChunk = 250

// influxQLSeries is one series of an InfluxQL answer.
type influxQLSeries struct {
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// number is a JSON number of an answer decoded with UseNumber ("" when the
// value is not a number).
func number(v any) json.Number {
	n, _ := v.(json.Number)
	return n
}

var tagQuote = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// tagIs is an InfluxQL condition on a tag's value.
func tagIs(tag, v string) string { return strconv.Quote(tag) + ` = '` + tagQuote.Replace(v) + `'` }

// anyOf is the conditions joined with OR, in parentheses.
func anyOf(conds []string) string { return "(" + strings.Join(conds, " OR ") + ")" }

// influxQL runs one statement on /query and returns its series. Times are
// in the epoch precision asked ("ns", "s"). A server that cannot be
// reached is vitals.ErrUnavailable; a refused or partial answer is an
// error of its own (a server without InfluxQL for the bucket).
func (s *Store) influxQL(ctx context.Context, stmt, epoch string) ([]influxQLSeries, error) {
	db, rp, _ := strings.Cut(s.cfg.Bucket, "/")
	client := &http.Client{Timeout: 6 * s.cfg.Timeout}
	v := url.Values{"db": {db}, "q": {stmt}, "epoch": {epoch}}
	if rp != "" {
		v.Set("rp", rp)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.cfg.URL, "/")+"/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Token "+s.cfg.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxql: %w: %v", vitals.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, fmt.Errorf("influxql: %w: %s", vitals.ErrUnavailable, resp.Status)
	}
	var ans influxQLAnswer
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<30))
	dec.UseNumber()
	err = dec.Decode(&ans)
	switch {
	case err != nil:
		return nil, fmt.Errorf("influxql: %s: %w", resp.Status, err)
	case resp.StatusCode != http.StatusOK || ans.Error != "" || len(ans.Results) != 1:
		return nil, fmt.Errorf("influxql: %s: %s", resp.Status, ans.Error)
	case ans.Results[0].Error != "" || ans.Results[0].Partial:
		return nil, fmt.Errorf("influxql: %s (partial %v)", ans.Results[0].Error, ans.Results[0].Partial)
	}
	return ans.Results[0].Series, nil
}

// fallBack reports whether a failed InfluxQL read should be tried again
// in Flux: not when the server is unreachable or the caller gave up.
func fallBack(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, vitals.ErrUnavailable)
}

// eachChunk runs f on the patients in chunks of manyChunk, daysParallel
// at a time (InfluxDB evaluates a query on one core).
func eachChunk(ctx context.Context, patients []string, f func(ctx context.Context, chunk []string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(daysParallel)
	for lo := 0; lo < len(patients); lo += manyChunk {
		chunk := patients[lo:min(lo+manyChunk, len(patients))]
		g.Go(func() error { return f(gctx, chunk) })
	}
	return g.Wait()
}

// readingsOf turns series of raw readings (grouped by patient, type and
// device; columns time, value, diastolic, received) into readings.
func readingsOf(series []influxQLSeries, each func(vitals.Reading)) {
	for _, se := range series {
		typ := vitals.Type(se.Tags["type"])
		spec, _ := vitals.Lookup(typ)
		col := map[string]int{}
		for i, c := range se.Columns {
			col[c] = i
		}
		for _, row := range se.Values {
			if len(row) != len(se.Columns) {
				continue
			}
			t, err := number(row[col["time"]]).Int64()
			if err != nil {
				continue
			}
			r := vitals.Reading{Patient: se.Tags["patient"], Device: se.Tags["device"], Type: typ, Time: time.Unix(0, t).UTC()}
			if spec != nil {
				r.Unit = spec.Canonical
			}
			if i, ok := col["value"]; ok {
				r.Value, _ = number(row[i]).Float64()
			}
			if i, ok := col["diastolic"]; ok {
				r.Diastolic, _ = number(row[i]).Float64()
			}
			if i, ok := col["received"]; ok {
				r.ReceivedTime, _ = row[i].(bool)
			}
			each(r)
		}
	}
}

const readingFields = `"value", "diastolic", "received"`

// timeRange is an InfluxQL condition on [from, to).
func timeRange(from, to time.Time) string {
	return fmt.Sprintf("time >= %d AND time < %d", from.UnixNano(), to.UnixNano())
}

// Latest implements vitals.Store.
func (s *Store) Latest(ctx context.Context, patient string) ([]vitals.Reading, error) {
	m, err := s.LatestOf(ctx, []string{patient})
	return m[patient], err
}

// LatestOf implements vitals.Store. Per chunk of patients, the newest
// reading of each series in the last day and a half (one query, the
// newest block of each series read backwards); for the (patient, type)
// pairs still without one, the same over the ranges of
// vitals.LatestSteps further back, then the rest of the history: most
// patients are answered by the first query, and only series not measured
// for over a year, or never, reach the last (where the tag index finds
// no series, the query reads nothing).
func (s *Store) LatestOf(ctx context.Context, patients []string) (map[string][]vitals.Reading, error) {
	out, err := s.latestInfluxQL(ctx, patients, time.Now())
	if err == nil || !fallBack(ctx, err) {
		return out, err
	}
	out = map[string][]vitals.Reading{}
	for _, p := range patients {
		rs, err := s.latestFlux(ctx, p)
		if err != nil {
			return nil, err
		}
		if len(rs) > 0 {
			out[p] = rs
		}
	}
	return out, nil
}

func (s *Store) latestInfluxQL(ctx context.Context, patients []string, now time.Time) (map[string][]vitals.Reading, error) {
	types := vitals.Types()
	out := map[string][]vitals.Reading{}
	var mu sync.Mutex
	err := eachChunk(ctx, patients, func(ctx context.Context, chunk []string) error {
		found := map[string][]vitals.Reading{}
		has := map[string]map[vitals.Type]bool{}
		hi := now.Add(vitals.LatestAhead)
		for step := 0; step <= len(vitals.LatestSteps); step++ {
			lo := time.Unix(0, 0)
			if step < len(vitals.LatestSteps) {
				lo = now.Add(-vitals.LatestSteps[step])
			}
			// Patients missing the same types share one condition: the
			// tag index answers a few (patients) AND (types) terms much
			// faster than one such term per patient.
			var sets []string
			bySet := map[string][]string{}
			for _, p := range chunk {
				var missing []string
				for _, t := range types {
					if !has[p][t] {
						missing = append(missing, tagIs("type", string(t)))
					}
				}
				if len(missing) == 0 {
					continue
				}
				set := ""
				if len(missing) < len(types) {
					set = anyOf(missing)
				}
				if bySet[set] == nil {
					sets = append(sets, set)
				}
				bySet[set] = append(bySet[set], tagIs("patient", p))
			}
			var who []string
			for _, set := range sets {
				term := anyOf(bySet[set])
				if set != "" {
					term = "(" + term + " AND " + set + ")"
				}
				who = append(who, term)
			}
			if len(who) == 0 {
				break
			}
			stmt := fmt.Sprintf(`SELECT %s FROM %q WHERE %s AND %s GROUP BY "patient", "type", "device" ORDER BY time DESC LIMIT 1`,
				readingFields, Measurement, anyOf(who), timeRange(lo, hi))
			series, err := s.influxQL(ctx, stmt, "ns")
			if err != nil {
				return fmt.Errorf("latest of %d patients: %w", len(chunk), err)
			}
			var got []vitals.Reading
			readingsOf(series, func(r vitals.Reading) { got = append(got, r) })
			for _, r := range got {
				if has[r.Patient][r.Type] {
					continue // found nearer now in an earlier step
				}
				found[r.Patient] = append(found[r.Patient], r)
			}
			for _, r := range got {
				if has[r.Patient] == nil {
					has[r.Patient] = map[vitals.Type]bool{}
				}
				has[r.Patient][r.Type] = true
			}
			hi = lo
		}
		mu.Lock()
		defer mu.Unlock()
		for p, rs := range found {
			out[p] = vitals.NewestOfEach(rs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RangeOf implements vitals.Store: per chunk of patients one query of the
// range.
func (s *Store) RangeOf(ctx context.Context, q vitals.PatientsQuery) (map[string][]vitals.Reading, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out := map[string][]vitals.Reading{}
	var mu sync.Mutex
	err := eachChunk(ctx, q.Patients, func(ctx context.Context, chunk []string) error {
		stmt := fmt.Sprintf(`SELECT %s FROM %q WHERE %s AND %s GROUP BY "patient", "type", "device"`,
			readingFields, Measurement, s.who(chunk, q.Types), timeRange(q.From, q.To))
		series, err := s.influxQL(ctx, stmt, "ns")
		if err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		mu.Lock()
		defer mu.Unlock()
		readingsOf(series, func(r vitals.Reading) { out[r.Patient] = append(out[r.Patient], r) })
		return nil
	})
	if err != nil {
		if !fallBack(ctx, err) {
			return nil, err
		}
		return s.rangeFlux(ctx, q)
	}
	for _, rs := range out {
		vitals.SortReadings(rs)
	}
	return out, nil
}

// who is the condition naming the patients, and the types when some are
// asked.
func (s *Store) who(patients []string, types []vitals.Type) string {
	ps := make([]string, len(patients))
	for i, p := range patients {
		ps[i] = tagIs("patient", p)
	}
	cond := anyOf(ps)
	if len(types) > 0 {
		ts := make([]string, len(types))
		for i, t := range types {
			ts[i] = tagIs("type", string(t))
		}
		cond += " AND " + anyOf(ts)
	}
	return cond
}

func (s *Store) rangeFlux(ctx context.Context, q vitals.PatientsQuery) (map[string][]vitals.Reading, error) {
	out := map[string][]vitals.Reading{}
	for _, p := range q.Patients {
		for _, t := range q.TypesOr() {
			rs, err := s.rangeFluxOne(ctx, vitals.Query{Patient: p, Type: t, From: q.From, To: q.To})
			if err != nil {
				return nil, err
			}
			out[p] = append(out[p], rs...)
		}
		if len(out[p]) == 0 {
			delete(out, p)
		}
		vitals.SortReadings(out[p])
	}
	return out, nil
}

// AggregateOf implements vitals.Store: per chunk of patients one query,
// grouped by window, patient and type (the storage engine's cursors
// compute the four statistics).
func (s *Store) AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out := map[string]map[vitals.Type][]vitals.Window{}
	var mu sync.Mutex
	err := eachChunk(ctx, q.Patients, func(ctx context.Context, chunk []string) error {
		stmt := fmt.Sprintf(`SELECT min("value"), max("value"), mean("value"), count("value") FROM %q WHERE %s AND %s GROUP BY time(%dns), "patient", "type" fill(none)`,
			Measurement, s.who(chunk, q.Types), timeRange(q.From, q.To), q.Every.Nanoseconds())
		series, err := s.influxQL(ctx, stmt, "ns")
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", q.PatientsQuery, err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, se := range series {
			p, typ := se.Tags["patient"], vitals.Type(se.Tags["type"])
			for _, row := range se.Values {
				if len(row) != 5 {
					continue
				}
				t, err := number(row[0]).Int64()
				n, err2 := number(row[4]).Int64()
				if err != nil || err2 != nil || n == 0 {
					continue
				}
				w := vitals.Window{Start: time.Unix(0, t).UTC(), Count: n}
				w.Min, _ = number(row[1]).Float64()
				w.Max, _ = number(row[2]).Float64()
				w.Mean, _ = number(row[3]).Float64()
				if out[p] == nil {
					out[p] = map[vitals.Type][]vitals.Window{}
				}
				out[p][typ] = append(out[p][typ], w)
			}
		}
		return nil
	})
	if err != nil {
		if !fallBack(ctx, err) {
			return nil, err
		}
		return s.aggregateFlux(ctx, q)
	}
	return out, nil
}

func (s *Store) aggregateFlux(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	out := map[string]map[vitals.Type][]vitals.Window{}
	for _, p := range q.Patients {
		for _, t := range q.TypesOr() {
			ws, err := s.aggregateFluxOne(ctx, vitals.AggregateQuery{Every: q.Every, Query: vitals.Query{Patient: p, Type: t, From: q.From, To: q.To}})
			if err != nil {
				return nil, err
			}
			if len(ws) > 0 {
				if out[p] == nil {
					out[p] = map[vitals.Type][]vitals.Window{}
				}
				out[p][t] = ws
			}
		}
	}
	return out, nil
}

// Range implements vitals.Store: one InfluxQL query, each device's
// series read from the asked end and cut at the limit (the readings of
// several devices merged here in the order of the SQLite store: time,
// then device).
func (s *Store) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	tail := ""
	if q.Newest {
		tail = " ORDER BY time DESC"
	}
	if q.Limit > 0 {
		tail += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	stmt := fmt.Sprintf(`SELECT %s FROM %q WHERE %s AND %s AND %s GROUP BY "patient", "type", "device"%s`,
		readingFields, Measurement, tagIs("patient", q.Patient), tagIs("type", string(q.Type)), timeRange(q.From, q.To), tail)
	series, err := s.influxQL(ctx, stmt, "ns")
	if err != nil {
		if fallBack(ctx, err) {
			return s.rangeFluxOne(ctx, q)
		}
		return nil, fmt.Errorf("range: %w", err)
	}
	var out []vitals.Reading
	readingsOf(series, func(r vitals.Reading) { out = append(out, r) })
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time) != q.Newest
		}
		return a.Device < b.Device
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Aggregate implements vitals.Store: one InfluxQL query, windows aligned
// to the epoch as GROUP BY time() aligns them, or one over the range.
func (s *Store) Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	group := ""
	if q.Every > 0 {
		group = fmt.Sprintf(" GROUP BY time(%dns) fill(none)", q.Every.Nanoseconds())
	}
	stmt := fmt.Sprintf(`SELECT min("value"), max("value"), mean("value"), count("value") FROM %q WHERE %s AND %s AND %s%s`,
		Measurement, tagIs("patient", q.Patient), tagIs("type", string(q.Type)), timeRange(q.From, q.To), group)
	series, err := s.influxQL(ctx, stmt, "ns")
	if err != nil {
		if fallBack(ctx, err) {
			return s.aggregateFluxOne(ctx, q)
		}
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	var out []vitals.Window
	for _, se := range series {
		for _, row := range se.Values {
			if len(row) != 5 {
				continue
			}
			t, err := number(row[0]).Int64()
			n, err2 := number(row[4]).Int64()
			if err != nil || err2 != nil || n == 0 {
				continue
			}
			w := vitals.Window{Start: time.Unix(0, t).UTC(), Count: n}
			if q.Every <= 0 {
				w.Start = q.From.UTC()
			}
			w.Min, _ = number(row[1]).Float64()
			w.Max, _ = number(row[2]).Float64()
			w.Mean, _ = number(row[3]).Float64()
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}
