package alerts

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// naiveMedian is the median of the window at t, from scratch.
func naiveMedian(ss []sample, t int64) (float64, bool) {
	lo, end := window(ss, t)
	var xs []float64
	for _, s := range ss[lo:end] {
		xs = append(xs, s.v)
	}
	slices.Sort(xs)
	return middle(xs)
}

// randomGap is the time to a vital's next reading: mostly a device's
// steady rate, with bursts (a flood, a batch upload), gaps, ties and
// readings that arrive out of order.
func randomGap(rng *rand.Rand) time.Duration {
	switch k := rng.IntN(100); {
	case k < 50:
		return time.Duration(rng.IntN(6000)) * time.Millisecond
	case k < 75:
		return time.Duration(rng.IntN(5)) * time.Millisecond // a flood, ties included
	case k < 85:
		return time.Duration(rng.IntN(20)) * time.Minute // a gap (sparse windows, the hour)
	case k < 95:
		return -time.Duration(rng.IntN(90)) * time.Second // late
	default:
		return 30 * time.Second
	}
}

func TestTheSortedWindowsMedianIsTheMedianOfTheWindow(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var s series
		at := t0.UnixNano()
		for i := range 6000 {
			at += int64(randomGap(rng))
			s.add(at, float64(rng.IntN(40))) // few values: ties in the window
			ss := s.samples()
			newest := ss[len(ss)-1].t
			want, wantOK := naiveMedian(ss, newest)
			got, ok := s.median(newest)
			require.Equal(t, wantOK, ok, "seed %d reading %d", seed, i)
			require.Equal(t, want, got, "seed %d reading %d", seed, i)
			// and at an earlier time, as breachStart and NEWS2 read it
			q := ss[rng.IntN(len(ss))].t
			want, wantOK = naiveMedian(ss, q)
			got, ok = s.median(q)
			require.Equal(t, wantOK, ok)
			require.Equal(t, want, got)
			require.LessOrEqual(t, len(ss), maxRecent)
			require.LessOrEqual(t, newest-ss[0].t, int64(news2Window))
		}
	}
}

// TestTheEngineDecidesAsTheReferenceDoesOnRandomReadings feeds random
// readings of the NEWS2 vitals (values around the rules' levels, floods,
// gaps and late arrivals) to the engine and to the reference, which sorts
// every window it reads, and requires the same transitions, reading by
// reading, and the same scores.
func TestTheEngineDecidesAsTheReferenceDoesOnRandomReadings(t *testing.T) {
	types := []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate, vitals.BodyTemperature, vitals.BloodPressure, vitals.BodyWeight}
	around := map[vitals.Type][2]float64{
		vitals.HeartRate: {35, 150}, vitals.SpO2: {82, 99}, vitals.RespiratoryRate: {5, 30},
		vitals.BodyTemperature: {35, 40}, vitals.BloodPressure: {80, 200}, vitals.BodyWeight: {70, 74},
	}
	transitions := 0
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 11))
		info := func(p string) PatientInfo {
			if p == "p2" {
				return PatientInfo{Scale: 2, OnOxygen: true, Consciousness: news2.Alert}
			}
			return PatientInfo{Scale: 1}
		}
		fast := NewEngine(DefaultRules(), info)
		ref := NewEngine(DefaultRules(), info)
		ref.reference = true
		next := map[string]time.Time{"p1": t0, "p2": t0}
		for i := range 4000 {
			p := []string{"p1", "p2"}[rng.IntN(2)]
			typ := types[rng.IntN(len(types))]
			if rng.IntN(3) > 0 {
				typ = types[i%2] // one vital floods
			}
			next[p] = next[p].Add(randomGap(rng))
			lim := around[typ]
			// runs of the same level make breaches last
			v := lim[0] + (lim[1]-lim[0])*float64((i/200+rng.IntN(3))%10)/9
			r := vitals.Reading{Patient: p, Type: typ, Time: next[p], Value: v}
			if typ == vitals.BloodPressure {
				r.Diastolic = v * 0.62
			}
			now := next[p].Add(time.Duration(rng.IntN(3)) * time.Second)
			want := ref.Observe(r, now)
			require.Equal(t, want, fast.Observe(r, now), "seed %d reading %d", seed, i)
			transitions += len(want)
			if i%97 == 0 {
				for _, id := range []string{"p1", "p2"} {
					a, okA := ref.Score(id, now)
					b, okB := fast.Score(id, now)
					require.Equal(t, okA, okB)
					require.Equal(t, a, b)
				}
			}
		}
	}
	t.Logf("%d transitions compared", transitions)
	require.Greater(t, transitions, 300, "the random readings must fire and clear rules")
}

// floodHeartRate feeds n heart-rate readings, one a millisecond, for one
// patient.
func floodHeartRate(e *Engine, n int) {
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		e.Observe(vitals.Reading{Patient: "flood", Type: vitals.HeartRate, Time: at, Value: 60 + float64(i%50)}, at)
	}
}

func TestAFloodOfReadingsKeepsAPatientsStateBounded(t *testing.T) {
	e := NewEngine(DefaultRules(), scale1)
	floodHeartRate(e, 10_000) // the state at its working size
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	floodHeartRate(e, 1_000_000) // 1,000 a second for 17 minutes
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d bytes over a million readings of one patient", grown)
	require.Less(t, grown, int64(1<<20), "a flood grows one patient's state (16 bytes a reading kept)")
	held := 0
	for i := range e.patients["flood"].recent {
		held += e.patients["flood"].recent[i].bytes()
	}
	require.LessOrEqual(t, held, maxPatientBytes)
	runtime.KeepAlive(e)
}

func TestABatchLooksEachPatientUpOncePerRunAndDecidesAsReadingByReading(t *testing.T) {
	lookups := 0
	info := func(string) PatientInfo { lookups++; return PatientInfo{Scale: 1} }
	one, all := NewEngine(DefaultRules(), scale1), NewEngine(DefaultRules(), info)
	var batch []vitals.Reading
	for s := range 400 {
		at := t0.Add(time.Duration(s) * time.Second)
		for _, p := range []string{"a", "b"} {
			batch = append(batch, vitals.Reading{Patient: p, Type: vitals.SpO2, Time: at, Value: 86})
		}
	}
	now := batch[len(batch)-1].Time
	var want, got []Transition
	for _, r := range batch {
		want = append(want, one.Observe(r, now)...)
	}
	// two uploads: a's readings, then b's
	sortByPatient := slices.Clone(batch)
	slices.SortStableFunc(sortByPatient, func(x, y vitals.Reading) int { return strings.Compare(x.Patient, y.Patient) })
	all.ObserveAll(sortByPatient, now, func(_ int, trs []Transition) { got = append(got, trs...) })
	require.Len(t, want, 4, "spo2_low and news2_single_3 fire for each patient")
	require.ElementsMatch(t, want, got)
	require.Equal(t, 2, lookups, "one lookup per run of a patient's readings")
}

func TestTheRangeSinceATimeIsTheScansRange(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 13))
		var s, ref series
		ref.reference = true
		at := t0.UnixNano()
		for i := range 5000 {
			at += int64(randomGap(rng))
			v := float64(rng.IntN(30))
			s.add(at, v)
			ref.add(at, v)
			ss := s.samples()
			for _, q := range []int64{ss[len(ss)-1].t, ss[rng.IntN(len(ss))].t} {
				w := time.Duration(rng.IntN(90)) * time.Minute
				lo, hi, ok := s.rangeSince(q, w)
				wlo, whi, wok := ref.rangeSince(q, w)
				require.Equal(t, [3]any{wlo, whi, wok}, [3]any{lo, hi, ok}, "seed %d reading %d", seed, i)
			}
		}
		require.LessOrEqual(t, s.bytes(), maxPatientBytes/numVitals)
	}
}
