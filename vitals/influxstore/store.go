// Package influxstore is the vitals.Store on InfluxDB: line-protocol writes
// through the 2.x API (influxdb-client-go/v2), queries in InfluxQL on the v1
// /query API (which InfluxDB 1.8, 2.x with a DBRP mapping, Cloud and 3
// serve), each falling back to Flux where /query does not answer. It works
// with InfluxDB 2.x, InfluxDB Cloud and 1.8+ (where the bucket is
// "database/retention-policy" and the token "user:password" or empty).
//
// Schema. One measurement, "vital". Tags: patient, device, type (the
// vitals.Type name). Fields: value (float, canonical unit of the type; the
// systolic for blood pressure), diastolic (float, blood pressure only),
// received (bool, present and true only when the device sent no time). The
// point time is the reading's time in nanoseconds.
//
// A point is identified by measurement, tag set and time, so a reading
// written twice (same device, type and time, hence the same patient) lands
// on the same point and is stored once: InfluxDB overwrites it with the same
// fields.
//
// Writes. The ingester batches readings itself and calls Write once per
// batch from several goroutines, so writes do not block one another; Write
// is synchronous because the ingester acknowledges MQTT messages only once
// their readings are durable, which the client's fire-and-forget WriteAPI
// cannot tell it. A failed write is retried a few times with backoff; past
// that Write returns an error wrapping vitals.ErrUnavailable (server down,
// 5xx, 429) and the ingester spools the batch.
package influxstore

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/vitalwire/vitalwire/vitals"
)

// Measurement is the InfluxDB measurement readings are written to.
const Measurement = "vital"

// Config locates the InfluxDB bucket.
type Config struct {
	URL    string `yaml:"url"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"`
	Token  string `yaml:"token"`
	// Retries is how many times a failed write is tried again before Write
	// gives up (default 2).
	Retries int `yaml:"retries"`
	// Timeout bounds one HTTP request (default 10 s).
	Timeout time.Duration `yaml:"timeout"`
	// AllowPlaintext permits an http:// URL to a host that is not on
	// loopback: readings and the token cross the network in the clear, so
	// only where something else protects that path. Off by default.
	AllowPlaintext bool `yaml:"allow_plaintext"`
}

// Store is a vitals.Store on InfluxDB.
type Store struct {
	cfg    Config
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI
	bufs   sync.Pool
}

var _ vitals.Store = (*Store)(nil)

// New connects lazily: it does not contact the server.
func New(cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("influx: url is required")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("influx: bucket is required")
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	opts := influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(cfg.Timeout / time.Second)).
		SetPrecision(time.Nanosecond).
		SetMaxRetries(0)
	c := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	s := &Store{cfg: cfg, client: c, write: c.WriteAPIBlocking(cfg.Org, cfg.Bucket), query: c.QueryAPI(cfg.Org)}
	s.bufs.New = func() any { return new(strings.Builder) }
	return s, nil
}

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", vitals.ErrUnavailable, err)
	}
	if !ok {
		return vitals.ErrUnavailable
	}
	return nil
}

// AppendLine appends the line-protocol form of r to b.
func AppendLine(b []byte, r *vitals.Reading) []byte {
	b = append(b, Measurement...)
	b = append(b, ",device="...)
	b = appendTag(b, r.Device)
	b = append(b, ",patient="...)
	b = appendTag(b, r.Patient)
	b = append(b, ",type="...)
	b = appendTag(b, string(r.Type))
	b = append(b, " value="...)
	b = strconv.AppendFloat(b, r.Value, 'g', -1, 64)
	if r.Type == vitals.BloodPressure {
		b = append(b, ",diastolic="...)
		b = strconv.AppendFloat(b, r.Diastolic, 'g', -1, 64)
	}
	if r.ReceivedTime {
		b = append(b, ",received=true"...)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.Time.UnixNano(), 10)
	return append(b, '\n')
}

func appendTag(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', ' ', '=', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return b
}

// Write implements vitals.Store.
func (s *Store) Write(ctx context.Context, batch []vitals.Reading) error {
	if len(batch) == 0 {
		return nil
	}
	buf := make([]byte, 0, 96*len(batch))
	for i := range batch {
		buf = AppendLine(buf, &batch[i])
	}
	body := string(buf[:len(buf)-1])
	var err error
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("influx write: %w (%v)", ctx.Err(), err)
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		err = s.write.WriteRecord(ctx, body)
		if err == nil {
			return nil
		}
		if !transient(err) {
			return fmt.Errorf("influx write refused: %w", err)
		}
	}
	return fmt.Errorf("influx write: %w: %v", vitals.ErrUnavailable, err)
}

// transient reports whether a write error may pass on a retry: network
// errors, 5xx and 429. A 4xx means the server refuses the data itself.
func transient(err error) bool {
	var he *ihttp.Error
	if errors.As(err, &he) && he.StatusCode != 0 {
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests
	}
	return true
}

func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func fluxString(s string) string { return strconv.Quote(s) }

func (s *Store) run(ctx context.Context, flux string, each func(*query.FluxRecord)) error {
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		if transient(err) {
			return fmt.Errorf("influx query: %w: %v", vitals.ErrUnavailable, err)
		}
		return fmt.Errorf("influx query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		each(res.Record())
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("influx query: %w", err)
	}
	return nil
}

func (s *Store) from(from, to time.Time, patient string) string {
	return fmt.Sprintf(`from(bucket: %s)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q and r.patient == %s and r._time < %s)`,
		fluxString(s.cfg.Bucket), fluxTime(from), fluxTime(to), Measurement, fluxString(patient), fluxTime(to))
}

func recordReading(rec *query.FluxRecord) vitals.Reading {
	r := vitals.Reading{Time: rec.Time().UTC()}
	r.Device, _ = rec.ValueByKey("device").(string)
	r.Patient, _ = rec.ValueByKey("patient").(string)
	typ, _ := rec.ValueByKey("type").(string)
	r.Type = vitals.Type(typ)
	r.Value, _ = rec.ValueByKey("value").(float64)
	r.Diastolic, _ = rec.ValueByKey("diastolic").(float64)
	r.ReceivedTime, _ = rec.ValueByKey("received").(bool)
	if spec, ok := vitals.Lookup(r.Type); ok {
		r.Unit = spec.Canonical
	}
	return r
}

const pivot = `
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`

// The filter on _time keeps the range half open: InfluxDB 1.8 includes a
// point exactly at stop.

// rangeFluxOne is Range in Flux, for a server without InfluxQL.
func (s *Store) rangeFluxOne(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	flux := s.from(q.From, q.To, q.Patient) + fmt.Sprintf(`
  |> filter(fn: (r) => r.type == %s)`, fluxString(string(q.Type))) + pivot + `
  |> group()`
	if q.Newest {
		flux += `
  |> sort(columns: ["_time", "device"], desc: true)`
	} else {
		flux += `
  |> sort(columns: ["_time", "device"])`
	}
	if q.Limit > 0 {
		flux += fmt.Sprintf(`
  |> limit(n: %d)`, q.Limit)
	}
	var out []vitals.Reading
	err := s.run(ctx, flux, func(rec *query.FluxRecord) { out = append(out, recordReading(rec)) })
	return out, err
}

// latestFlux is Latest in Flux, for a server without InfluxQL: the same
// bounded ranges as the InfluxQL path, nearest first, each query's
// answer kept only for types not found nearer now.
func (s *Store) latestFlux(ctx context.Context, patient string) ([]vitals.Reading, error) {
	now := time.Now()
	hi := now.Add(vitals.LatestAhead)
	byType := map[vitals.Type]vitals.Reading{}
	for step := 0; step <= len(vitals.LatestSteps); step++ {
		lo := time.Unix(0, 0)
		if step < len(vitals.LatestSteps) {
			lo = now.Add(-vitals.LatestSteps[step])
		}
		flux := s.from(lo, hi, patient) + `
  |> last()` + pivot
		var got []vitals.Reading
		if err := s.run(ctx, flux, func(rec *query.FluxRecord) { got = append(got, recordReading(rec)) }); err != nil {
			return nil, err
		}
		for _, r := range vitals.NewestOfEach(got) {
			if _, ok := byType[r.Type]; !ok {
				byType[r.Type] = r
			}
		}
		if len(byType) == len(vitals.Types()) {
			break
		}
		hi = lo
	}
	out := make([]vitals.Reading, 0, len(byType))
	for _, r := range byType {
		out = append(out, r)
	}
	return vitals.NewestOfEach(out), nil
}

// aggregateFluxOne is Aggregate in Flux, for a server without InfluxQL.
func (s *Store) aggregateFluxOne(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	every := q.Every
	from := q.From
	if every <= 0 {
		every = q.To.Sub(q.From)
	}
	base := s.from(q.From, q.To, q.Patient) + fmt.Sprintf(`
  |> filter(fn: (r) => r.type == %s and r._field == "value")
  |> group()`, fluxString(string(q.Type)))
	var flux strings.Builder
	fmt.Fprintf(&flux, "data = %s\n", base)
	for _, fn := range []string{"min", "max", "mean", "count"} {
		offset := ""
		if q.Every <= 0 {
			// One window starting at From, not at an epoch boundary.
			offset = fmt.Sprintf(", offset: %dns", from.UnixNano()%every.Nanoseconds())
		}
		fmt.Fprintf(&flux, `data |> window(every: %dns%s) |> %s() |> duplicate(column: "_start", as: "_time") |> window(every: inf) |> yield(name: %q)
`, every.Nanoseconds(), offset, fn, fn)
	}
	windows := map[int64]*vitals.Window{}
	err := s.run(ctx, flux.String(), func(rec *query.FluxRecord) {
		start, _ := rec.ValueByKey("_start").(time.Time)
		if t, ok := rec.ValueByKey("_time").(time.Time); ok {
			start = t
		}
		w := windows[start.UnixNano()]
		if w == nil {
			w = &vitals.Window{Start: start.UTC()}
			windows[start.UnixNano()] = w
		}
		switch rec.Result() {
		case "min":
			w.Min, _ = rec.Value().(float64)
		case "max":
			w.Max, _ = rec.Value().(float64)
		case "mean":
			w.Mean, _ = rec.Value().(float64)
		case "count":
			w.Count, _ = rec.Value().(int64)
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]vitals.Window, 0, len(windows))
	for _, w := range windows {
		if w.Count > 0 {
			out = append(out, *w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}

// daysFilterMax is how many patients a days query names in its Flux
// filter; past it the query reads every patient's counts in the range and
// keeps the asked ones (one scan instead of a filter too long to plan).
const daysFilterMax = 64

// DaysWithData implements vitals.Store. It asks InfluxQL (the /query API
// of InfluxDB 1.x, and of 2.x and Cloud where the bucket has a v1
// database mapping) for each patient's count per local day, one query per
// chunk of patients and span of constant offset (GROUP BY time(1d,
// offset), patient: the storage engine counts blocks without reading
// values); where InfluxQL does not answer, it falls back to Flux, one
// count per day. The values are never returned.
func (s *Store) DaysWithData(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	out, err := s.daysInfluxQL(ctx, q)
	if err == nil || ctx.Err() != nil {
		return out, err
	}
	return s.daysFlux(ctx, q)
}

// influxQLAnswer is the JSON of /query.
type influxQLAnswer struct {
	Error   string `json:"error"`
	Results []struct {
		Error   string           `json:"error"`
		Series  []influxQLSeries `json:"series"`
		Partial bool             `json:"partial"`
	} `json:"results"`
}

// daysChunk is how many patients one InfluxQL days query names in its
// filter: the tag index finds their series, so a program of 10,000
// patients is forty queries per span, each reading only the asked
// patients' counts.
const daysChunk = 250

func (s *Store) daysInfluxQL(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error) {
	out := map[string][]vitals.Day{}
	spans := q.Spans()
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	// The chunks' queries run daysParallel at a time: InfluxDB evaluates
	// each query on one core, so a program-wide report would otherwise
	// leave the store's other cores idle. A patient is in one chunk only,
	// so each chunk's days are merged whole.
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(daysParallel)
	for lo := 0; lo < len(q.Patients); lo += daysChunk {
		chunk := q.Patients[lo:min(lo+daysChunk, len(q.Patients))]
		g.Go(func() error {
			want := make(map[string]bool, len(chunk))
			var who strings.Builder
			who.WriteString(" AND (")
			for i, p := range chunk {
				want[p] = true
				if i > 0 {
					who.WriteString(" OR ")
				}
				who.WriteString(`"patient" = '` + quote.Replace(p) + `'`)
			}
			who.WriteString(")")
			mine := map[string][]vitals.Day{}
			for _, sp := range spans {
				if err := s.daysSpanInfluxQL(gctx, sp, who.String(), want, mine); err != nil {
					return err
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for p, days := range mine {
				out[p] = days
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// daysParallel is how many days queries run at once.
const daysParallel = 3

// daysSpanInfluxQL counts the patients of the filter by local day over
// one span of constant offset, and merges the counts into out.
func (s *Store) daysSpanInfluxQL(ctx context.Context, sp vitals.Span, who string, want map[string]bool, out map[string][]vitals.Day) error {
	offset := ((-sp.Offset)%86400 + 86400) % 86400
	stmt := fmt.Sprintf(`SELECT count("value") FROM %q WHERE time >= %d AND time < %d%s GROUP BY time(1d, %ds), "patient" fill(none)`,
		Measurement, sp.From.UnixNano(), sp.To.UnixNano(), who, offset)
	series, err := s.influxQL(ctx, stmt, "s")
	if err != nil {
		return err
	}
	sort.Slice(series, func(i, j int) bool { return series[i].Tags["patient"] < series[j].Tags["patient"] })
	for _, se := range series {
		p := se.Tags["patient"]
		if !want[p] {
			continue
		}
		for _, row := range se.Values {
			if len(row) != 2 {
				continue
			}
			t, err1 := number(row[0]).Int64()
			n, err2 := number(row[1]).Int64()
			if err1 != nil || err2 != nil || n == 0 {
				continue
			}
			// A window starts at local midnight, or at the span's start
			// when the span starts within a day.
			if t < sp.From.Unix() {
				t = sp.From.Unix()
			}
			vitals.MergeDays(out, p, vitals.DayOf((t+sp.Offset)/86400), n)
		}
	}
	return nil
}

// daysFlux counts each series' points of the "value" field per local day
// with Flux, one count per day in one request (a count over a range is
// pushed down to the storage engine; day windows are not, in InfluxDB
// 1.8's Flux, and run a hundred times slower).
func (s *Store) daysFlux(ctx context.Context, q vitals.DaysQuery) (map[string][]vitals.Day, error) {
	want := make(map[string]bool, len(q.Patients))
	for _, p := range q.Patients {
		want[p] = true
	}
	out := map[string][]vitals.Day{}
	if len(want) == 0 {
		return out, nil
	}
	who := ""
	if len(want) <= daysFilterMax {
		var b strings.Builder
		b.WriteString(" and (")
		for i, p := range q.Patients {
			if i > 0 {
				b.WriteString(" or ")
			}
			b.WriteString("r.patient == " + fluxString(p))
		}
		b.WriteString(")")
		who = b.String()
	}
	// The days, each cut to its span (a day across a change of offset is
	// two parts, merged below).
	type part struct {
		from, to time.Time
		day      int64
	}
	var parts []part
	for _, sp := range q.Spans() {
		for from := sp.From; from.Before(sp.To); {
			d := (from.Unix() + sp.Offset) / 86400
			to := time.Unix((d+1)*86400-sp.Offset, 0)
			if to.After(sp.To) {
				to = sp.To
			}
			parts = append(parts, part{from, to, d})
			from = to
		}
	}
	var flux strings.Builder
	for i, p := range parts {
		fmt.Fprintf(&flux, `from(bucket: %s) |> range(start: %s, stop: %s) |> filter(fn: (r) => r._measurement == %q and r._field == "value" and r._time < %s%s) |> count() |> keep(columns: ["patient", "_value"]) |> yield(name: "%d")
`, fluxString(s.cfg.Bucket), fluxTime(p.from), fluxTime(p.to), Measurement, fluxTime(p.to), who, i)
	}
	counts := make([]map[string]int64, len(parts))
	err := s.run(ctx, flux.String(), func(rec *query.FluxRecord) {
		i, err := strconv.Atoi(rec.Result())
		if err != nil || i < 0 || i >= len(parts) {
			return
		}
		p, _ := rec.ValueByKey("patient").(string)
		n, _ := rec.Value().(int64)
		if !want[p] || n == 0 {
			return
		}
		if counts[i] == nil {
			counts[i] = map[string]int64{}
		}
		counts[i][p] += n
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	for i, p := range parts {
		ps := make([]string, 0, len(counts[i]))
		for pt := range counts[i] {
			ps = append(ps, pt)
		}
		sort.Strings(ps)
		for _, pt := range ps {
			vitals.MergeDays(out, pt, vitals.DayOf(p.day), counts[i][pt])
		}
	}
	return out, nil
}

// Close implements vitals.Store.
func (s *Store) Close() error {
	s.client.Close()
	return nil
}

// Validate checks the settings, naming each bad field.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: is required when store.kind is influx"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket: is required when store.kind is influx"))
	}
	if c.Retries < 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("retries, timeout: must not be negative"))
	}
	if c.URL != "" {
		if err := checkURL(c.URL, c.AllowPlaintext); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkURL refuses a URL that is not http(s), and http:// to a host that
// is not loopback unless allowed.
func checkURL(raw string, allowPlaintext bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("url: must be https://host:8086 (or http:// on loopback)")
	}
	if u.Scheme == "https" || allowPlaintext {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("url: %s is plaintext to a host that is not loopback: readings and the token would cross the network in the clear; use https://, or set allow_plaintext: true where another layer protects the link",
		u.Redacted())
}
