package simulators

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func mustScenario(t *testing.T, yaml string) *Scenario {
	t.Helper()
	sc, err := ParseScenario([]byte(yaml))
	require.NoError(t, err)
	return sc
}

// run plays a whole scenario and returns its emissions and ground truth.
func run(t *testing.T, sc *Scenario) ([]Emission, []byte) {
	t.Helper()
	var truth bytes.Buffer
	s := NewSimulation(sc, &truth)
	var out []Emission
	require.NoError(t, s.Advance(s.End(), func(e Emission) { out = append(out, e) }))
	return out, truth.Bytes()
}

type rawReading struct {
	Type      vitals.Type `json:"type"`
	Value     float64     `json:"value"`
	Systolic  float64     `json:"systolic"`
	Diastolic float64     `json:"diastolic"`
	Unit      string      `json:"unit"`
	Time      time.Time   `json:"time"`
}

func readingsOf(t *testing.T, es []Emission) []rawReading {
	var out []rawReading
	for _, e := range es {
		if e.Readings == 0 {
			continue
		}
		var b struct{ Readings []rawReading }
		if json.Unmarshal(e.Payload, &b) != nil {
			continue // garbage
		}
		out = append(out, b.Readings...)
	}
	return out
}

func TestTheSameSeedAndScenarioGiveTheSameBytes(t *testing.T) {
	const yaml = `
start: 2026-03-02T00:00:00Z
duration: 6h
seed: 7
generate: 10
`
	hash := func(seed uint64) (string, string) {
		sc := mustScenario(t, yaml)
		sc.Seed = seed
		sc.Patients[1].Events = []Event{{Kind: EventSepsis, At: time.Hour, Ramp: 2 * time.Hour}, {Kind: EventOffline, Device: sc.Patients[1].Devices[0], At: 2 * time.Hour, For: 30 * time.Minute, Order: "shuffled"}}
		es, truth := run(t, sc)
		h := sha256.New()
		for _, e := range es {
			h.Write([]byte(e.At.Format(time.RFC3339Nano) + e.Topic))
			h.Write(e.Payload)
		}
		return string(h.Sum(nil)), string(truth)
	}
	a, ta := hash(7)
	b, tb := hash(7)
	c, _ := hash(8)
	require.Equal(t, a, b, "identical payload streams")
	require.Equal(t, ta, tb, "identical ground truth")
	require.NotEqual(t, a, c, "another seed, another stream")
}

// Physiological ranges of the profiles over a simulated day without
// events, as docs/SIMULATOR.md states them.
var dayRanges = map[string][2]float64{
	"heart_rate": {40, 150}, "respiratory_rate": {8, 30}, "spo2": {84, 100}, "body_temperature": {35.5, 38.3},
	"systolic": {85, 175}, "diastolic": {45, 110}, "blood_glucose": {55, 320}, "body_weight": {35, 200},
}

func TestEveryProfileStaysPhysiologicalOverADayAndTheProfilesDiffer(t *testing.T) {
	sc := mustScenario(t, `
start: 2026-03-02T00:00:00Z
duration: 24h
seed: 3
patients:
  - {id: h, profile: healthy, devices: [watch, patch, cuff, cgm, scale]}
  - {id: c, profile: copd, devices: [watch, ring, patch, cuff, cgm, scale]}
  - {id: f, profile: heart_failure, devices: [watch, patch, cuff, cgm, scale]}
  - {id: d, profile: type1_diabetes, devices: [watch, cgm, cuff, scale]}
  - {id: p, profile: post_operative, devices: [patch, thermometer, cuff, cgm, scale]}
`)
	var truth bytes.Buffer
	s := NewSimulation(sc, &truth)
	var es []Emission
	require.NoError(t, s.Advance(s.End(), func(e Emission) { es = append(es, e) }))

	rows := map[string][]TruthRow{}
	for _, line := range strings.Split(strings.TrimSpace(truth.String()), "\n") {
		var r TruthRow
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		if !r.Time.IsZero() && r.Profile != "" {
			rows[r.Patient] = append(rows[r.Patient], r)
		}
	}
	require.Len(t, rows["h"], 24*60)
	for id, rs := range rows {
		for _, r := range rs {
			v := r.Vitals
			for name, x := range map[string]float64{"heart_rate": v.HeartRate, "respiratory_rate": v.RespRate, "spo2": v.SpO2,
				"body_temperature": v.Temperature, "systolic": v.Systolic, "diastolic": v.Diastolic, "blood_glucose": v.Glucose, "body_weight": v.Weight} {
				lim := dayRanges[name]
				require.True(t, x >= lim[0] && x <= lim[1], "%s %s %v at %s", id, name, x, r.Time)
			}
		}
	}
	mean := func(id string, f func(Vitals) float64) float64 {
		sum := 0.0
		for _, r := range rows[id] {
			sum += f(r.Vitals)
		}
		return sum / float64(len(rows[id]))
	}
	frac := func(id string, f func(Vitals) bool) float64 {
		n := 0
		for _, r := range rows[id] {
			if f(r.Vitals) {
				n++
			}
		}
		return float64(n) / float64(len(rows[id]))
	}
	t.Run("COPD saturation is mostly 88-92 %, a healthy adult's 95 % or more", func(t *testing.T) {
		require.Greater(t, frac("c", func(v Vitals) bool { return v.SpO2 >= 88 && v.SpO2 <= 92 }), 0.9)
		require.Greater(t, frac("h", func(v Vitals) bool { return v.SpO2 >= 95 }), 0.9)
	})
	t.Run("the diabetic's glucose runs higher and wider", func(t *testing.T) {
		require.Greater(t, mean("d", func(v Vitals) float64 { return v.Glucose }), mean("h", func(v Vitals) float64 { return v.Glucose })+30)
	})
	t.Run("after surgery: warmer and faster", func(t *testing.T) {
		require.Greater(t, mean("p", func(v Vitals) float64 { return v.Temperature }), mean("h", func(v Vitals) float64 { return v.Temperature })+0.3)
		require.Greater(t, mean("p", func(v Vitals) float64 { return v.HeartRate }), mean("h", func(v Vitals) float64 { return v.HeartRate })+8)
	})
	t.Run("heart failure gains weight and runs a lower pressure", func(t *testing.T) {
		first, last := rows["f"][0].Vitals.Weight, rows["f"][len(rows["f"])-1].Vitals.Weight
		require.InDelta(t, 0.15, last-first, 0.02)
		require.Less(t, mean("f", func(v Vitals) float64 { return v.Systolic }), 115.0)
	})
	t.Run("heart rate is lower at night than in the afternoon", func(t *testing.T) {
		for _, id := range []string{"h", "c", "f", "d", "p"} {
			night, day := 0.0, 0.0
			for _, r := range rows[id] {
				switch r.Time.Hour() {
				case 3, 4:
					night += r.Vitals.HeartRate
				case 15, 16:
					day += r.Vitals.HeartRate
				}
			}
			require.Less(t, night, day, id)
		}
	})
	t.Run("the emitted COPD SpO2 mostly reads 88-92 too, and every reading is plausible", func(t *testing.T) {
		var in, all int
		for _, e := range es {
			if !strings.HasPrefix(e.Device, "c-") || e.Readings == 0 {
				continue
			}
			var b struct{ Readings []rawReading }
			require.NoError(t, json.Unmarshal(e.Payload, &b))
			for _, r := range b.Readings {
				if r.Type == vitals.SpO2 {
					all++
					if r.Value >= 88 && r.Value <= 92 {
						in++
					}
				}
			}
		}
		require.Greater(t, all, 500)
		require.Greater(t, float64(in)/float64(all), 0.75)
		for _, r := range readingsOf(t, es) {
			spec, ok := vitals.Lookup(r.Type)
			require.True(t, ok)
			v := r.Value
			if r.Type == vitals.BloodPressure {
				v = r.Systolic
			}
			u, ok := spec.Unit(r.Unit)
			require.True(t, ok, "unit %s for %s", r.Unit, r.Type)
			require.True(t, spec.Plausible.Contains(u.ToCanonic(v)), "%s %v", r.Type, v)
		}
	})
	t.Run("healthy baselines meet no alarm condition", func(t *testing.T) {
		for _, r := range rows["h"] {
			require.Empty(t, r.Conditions, "at %s", r.Time)
		}
	})
}

// window5 keeps the newest readings of each type and scores NEWS2 from the
// median of the last five minutes, as a careful reader of noisy data would.
type window5 struct{ byType map[vitals.Type][]rawReading }

func (w *window5) add(r rawReading) {
	w.byType[r.Type] = append(w.byType[r.Type], r)
}

func (w *window5) median(typ vitals.Type, at time.Time) *float64 {
	var xs []float64
	for _, r := range w.byType[typ] {
		if !r.Time.After(at) && at.Sub(r.Time) <= 5*time.Minute {
			xs = append(xs, r.Value)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	return &m
}

func TestTheSepsisScenarioCrossesNEWS2WhenTheGroundTruthSays(t *testing.T) {
	sc := mustScenario(t, `
start: 2026-03-02T06:00:00Z
duration: 10h
seed: 11
patients:
  - id: s1
    profile: healthy
    devices: [patch, watch]
    events:
      - {kind: sepsis, at: 1h, ramp: 6h}
`)
	es, truth := run(t, sc)
	// Ground truth: when NEWS2 >= 5 starts.
	var truthStart time.Time
	for _, line := range strings.Split(strings.TrimSpace(string(truth)), "\n") {
		var ev TruthEvent
		require.NoError(t, json.Unmarshal([]byte(line), &ev))
		if ev.Condition == "news2_5_or_more" && ev.State == "start" && truthStart.IsZero() {
			truthStart = ev.Time
		}
	}
	require.False(t, truthStart.IsZero(), "the ground truth has NEWS2 >= 5")
	require.True(t, truthStart.After(sc.Start.Add(time.Hour)) && truthStart.Before(sc.Start.Add(7*time.Hour)), "%s", truthStart)

	// NEWS2 computed from the emitted data, minute by minute. The patch
	// sends heart rate, respiration and temperature, the watch SpO2; no
	// cuff, so systolic comes from nowhere and the score is partial.
	w := &window5{byType: map[vitals.Type][]rawReading{}}
	rs := readingsOf(t, es)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
	var dataStart, since time.Time
	i := 0
	for at := sc.Start; at.Before(sc.Start.Add(sc.Duration)); at = at.Add(time.Minute) {
		for ; i < len(rs) && !rs[i].Time.After(at); i++ {
			w.add(rs[i])
		}
		p := news2.Params{RespiratoryRate: w.median(vitals.RespiratoryRate, at), SpO2: w.median(vitals.SpO2, at),
			Pulse: w.median(vitals.HeartRate, at), Temperature: w.median(vitals.BodyTemperature, at), Consciousness: news2.Alert}
		// systolic from the ground truth's state is not observable here;
		// use the same rows' truth for it so that only emitted data differ.
		p.Systolic = truthSystolic(t, truth, at)
		// The same 5 minutes the truth's condition requires.
		if news2.Compute(p).Total >= 5 {
			if since.IsZero() {
				since = at
			}
			if at.Sub(since) >= 5*time.Minute {
				dataStart = at
				break
			}
		} else {
			since = time.Time{}
		}
	}
	require.False(t, dataStart.IsZero(), "the emitted data reach NEWS2 5")
	require.InDelta(t, 0, dataStart.Sub(truthStart).Minutes(), 20, "data cross at %s, truth at %s", dataStart, truthStart)
}

func truthSystolic(t *testing.T, truth []byte, at time.Time) *float64 {
	key := `"t":"` + at.Format(time.RFC3339) + `"`
	for _, line := range strings.Split(string(truth), "\n") {
		if strings.Contains(line, key) && strings.Contains(line, `"vitals"`) {
			var r TruthRow
			require.NoError(t, json.Unmarshal([]byte(line), &r))
			v := r.Vitals.Systolic
			return &v
		}
	}
	return nil
}

func TestDeviceFaults(t *testing.T) {
	base := `
start: 2026-03-02T10:00:00Z
duration: 2h
seed: 5
patients:
  - id: f1
    devices: [watch]
    events:
`
	// Readings measured before the last upload interval: by the end they
	// have been sent whatever happened on the way.
	sentBefore := func(es []Emission) int {
		n := 0
		for _, r := range readingsOf(t, es) {
			if r.Time.Before(t0.Add(11*time.Hour + 55*time.Minute)) {
				n++
			}
		}
		return n
	}
	plainReadings := sentBefore(func() []Emission { es, _ := run(t, mustScenario(t, base+"      []\n")); return es }())

	t.Run("offline for 30 minutes: nothing sent meanwhile, then every buffered reading at once, late", func(t *testing.T) {
		for _, order := range []string{"in_order", "shuffled"} {
			es, truth := run(t, mustScenario(t, base+"      - {kind: offline, device: watch, at: 30m, for: 30m, order: "+order+"}\n"))
			from, to := t0.Add(10*time.Hour+30*time.Minute), t0.Add(11*time.Hour)
			var late []rawReading
			for _, e := range es {
				if e.Readings > 0 && e.At.After(from) && e.At.Before(to) {
					t.Fatalf("sent while offline at %s", e.At)
				}
				if e.Readings > 0 && e.At.Equal(to) {
					var b struct{ Readings []rawReading }
					require.NoError(t, json.Unmarshal(e.Payload, &b))
					late = append(late, b.Readings...)
				}
			}
			require.Greater(t, len(late), 30*12, "%s: the half hour's heart rates come late", order)
			sorted := sort.SliceIsSorted(late, func(i, j int) bool { return late[i].Time.Before(late[j].Time) })
			require.Equal(t, order == "in_order", sorted, order)
			require.Equal(t, plainReadings, sentBefore(es), "nothing lost to the outage")
			require.Contains(t, string(truth), `"offline:watch"`)
		}
	})
	t.Run("a removed device sends nothing and the truth says no data", func(t *testing.T) {
		es, truth := run(t, mustScenario(t, base+"      - {kind: device_removal, device: watch, at: 1h}\n"))
		for _, r := range readingsOf(t, es) {
			require.True(t, r.Time.Before(t0.Add(11*time.Hour)), "reading at %s after removal", r.Time)
		}
		require.Contains(t, string(truth), `"no_data:watch"`)
	})
	t.Run("duplicates, wrong units, garbage and clock skew at their rates", func(t *testing.T) {
		es, _ := run(t, mustScenario(t, base+`      - {kind: duplicates, device: watch, probability: 0.5}
      - {kind: wrong_units, device: watch, probability: 0.1}
      - {kind: garbage, device: watch, probability: 0.2}
      - {kind: clock_skew, device: watch, offset: 90s}
`))
		seen := map[string]int{}
		msgs, garbage, wrong, all := 0, 0, 0, 0
		for _, e := range es {
			if e.Readings == 0 {
				continue
			}
			msgs++
			seen[string(e.Payload)]++
			var b struct{ Readings []rawReading }
			if json.Unmarshal(e.Payload, &b) != nil {
				garbage++
				continue
			}
			for _, r := range b.Readings {
				all++
				if r.Unit == "Hz" || r.Unit == "1" || r.Unit == "/min" && r.Type == vitals.Steps {
					wrong++
				}
				require.True(t, r.Time.Sub(e.At) > 0 || r.Type == vitals.Steps || r.Time.Sub(e.At) > -2*time.Minute, "skewed ahead")
			}
		}
		dups := 0
		for _, n := range seen {
			if n > 1 {
				dups++
			}
		}
		require.InDelta(t, 0.2, float64(garbage)/float64(msgs), 0.1)
		require.InDelta(t, 0.1, float64(wrong)/float64(all), 0.04)
		require.Greater(t, dups, msgs/6, "about half the messages are sent twice")
	})
}

func TestScenarioErrorsNameThePatientAndField(t *testing.T) {
	_, err := ParseScenario([]byte(`
patients:
  - id: a
    profile: vampire
  - id: a
    devices: [toaster]
    events:
      - {kind: sepsis}
      - {kind: offline, device: ring}
      - {kind: meteor}
`))
	for _, want := range []string{"patients[0].profile", "patients[1].id", "patients[1].devices[0]", "patients[1].events[1].device", "patients[1].events[2].kind"} {
		require.ErrorContains(t, err, want)
	}
	_, err = ParseScenario([]byte("patiens: []\n"))
	require.ErrorContains(t, err, "patiens")
}

func TestTheDemoShowsDeteriorationsWithinMinutes(t *testing.T) {
	sc := DemoScenario(5, t0.Add(9*time.Hour), 1)
	var truth bytes.Buffer
	s := NewSimulation(sc, &truth)
	require.NoError(t, s.Advance(sc.Start.Add(13*time.Minute), func(Emission) {}))
	first := map[string]time.Time{}
	for _, line := range strings.Split(strings.TrimSpace(truth.String()), "\n") {
		var ev TruthEvent
		require.NoError(t, json.Unmarshal([]byte(line), &ev))
		if ev.State == "start" && first[ev.Patient].IsZero() {
			first[ev.Patient] = ev.Time
		}
	}
	require.NotContains(t, first, "sim-patient-001", "the healthy patient stays quiet")
	for _, p := range []string{"sim-patient-002", "sim-patient-003", "sim-patient-004"} {
		require.Contains(t, first, p)
		require.Less(t, first[p].Sub(sc.Start), 12*time.Minute, "%s deteriorates within 12 minutes", p)
	}
	require.Contains(t, truth.String(), `"no_data:patch"`, "patient 5's patch falls off")
}
