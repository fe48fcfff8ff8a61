package alerts_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
	"github.com/vitalwire/vitalwire/vitals/storetest"
)

// countingStore counts the reads the warm-up makes of a real store.
type countingStore struct {
	vitals.Store
	reads atomic.Int64
	from  atomic.Int64 // the earliest From of a replay read, Unix ns
}

func (c *countingStore) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	c.reads.Add(1)
	return c.Store.Range(ctx, q)
}

func (c *countingStore) Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error) {
	c.reads.Add(1)
	return c.Store.Aggregate(ctx, q)
}

func (c *countingStore) RangeOf(ctx context.Context, q vitals.PatientsQuery) (map[string][]vitals.Reading, error) {
	c.reads.Add(1)
	c.from.Store(q.From.UnixNano())
	return c.Store.RangeOf(ctx, q)
}

func (c *countingStore) AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	c.reads.Add(1)
	return c.Store.AggregateOf(ctx, q)
}

func TestWarmUpReadsAFewQueriesForAllPatientsAndKeepsRunningEpisodes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	records := testenv.OpenRecords(t)
	sq, err := sqlitestore.Open(ctx, filepath.Join(dir, "vitals.db"))
	require.NoError(t, err)
	defer sq.Close()

	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	// 1,200 patients with a quiet heart rate each minute of the last
	// hour; "falling" has had an SpO2 of 85 every 10 s for the last
	// 90 s (the 2-minute rule has not fired yet); "febrile" had a
	// temperature of 39.5 taken 40 minutes ago.
	const n = 1200
	var batch []vitals.Reading
	var patients []string
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("wp-%04d", i)
		patients = append(patients, p)
		for m := 1; m <= 60; m++ {
			batch = append(batch, storetest.Reading(p, "w-"+p, vitals.HeartRate, now.Add(-time.Duration(m)*time.Minute), 72))
		}
	}
	for s := 0; s <= 90; s += 10 {
		batch = append(batch, storetest.Reading("falling", "o-falling", vitals.SpO2, now.Add(-90*time.Second+time.Duration(s)*time.Second), 85))
	}
	batch = append(batch, storetest.Reading("febrile", "t-febrile", vitals.BodyTemperature, now.Add(-40*time.Minute), 39.5))
	patients = append(patients, "falling", "febrile")
	require.NoError(t, sq.Write(ctx, batch))

	engine := alerts.NewEngine(alerts.DefaultRules(), func(string) alerts.PatientInfo { return alerts.PatientInfo{Scale: 1} })
	svc := alerts.NewService(engine, alerts.NewStore(records), nil, zerolog.Nop(), nil)
	clock := now
	svc.SetClock(func() time.Time { return clock })
	store := &countingStore{Store: sq}
	require.NoError(t, svc.Warm(ctx, store, patients))

	// Four baseline vitals and the recent readings: five reads, not
	// eight or more a patient.
	require.LessOrEqual(t, store.reads.Load(), int64(5), "reads for %d patients", len(patients))
	require.Equal(t, now.Add(-time.Hour).UnixNano(), store.from.Load(), "the replay reaches back the hour NEWS2 looks back over, no further")

	score, ok := svc.Score("febrile")
	require.True(t, ok)
	require.NotContains(t, score.Missing(), "temperature", "a temperature taken 40 minutes before the restart still counts in NEWS2")

	// The episode in progress goes on: two more readings after the
	// restart complete the two minutes, dated from its start.
	for s := 10; s <= 40; s += 10 {
		clock = now.Add(time.Duration(s) * time.Second)
		svc.Readings([]vitals.Reading{storetest.Reading("falling", "o-falling", vitals.SpO2, clock, 85)})
	}
	open, err := svc.List(ctx, []string{"falling"}, true, 10)
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, "spo2_low", open[0].Rule)
}

// hrFrom notes the earliest From of the warm-up's heart-rate windows.
type hrFrom struct {
	vitals.Store
	earliest time.Time
}

func (h *hrFrom) AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error) {
	if len(q.Types) == 1 && q.Types[0] == vitals.HeartRate && (h.earliest.IsZero() || q.From.Before(h.earliest)) {
		h.earliest = q.From
	}
	return h.Store.AggregateOf(ctx, q)
}

func TestASecondStartReadsTheBaselinesDaysKeptByTheFirstNotFourWeeksOfTheStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	records := testenv.OpenRecords(t)
	sq, err := sqlitestore.Open(ctx, filepath.Join(dir, "vitals.db"))
	require.NoError(t, err)
	defer sq.Close()
	// Nine nights of resting heart rate, a reading every 2 minutes from
	// midnight to 6 am (UTC, the default rules' zone), for three
	// patients; the restart is at noon of the tenth day.
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := day0.Add(9*24*time.Hour + 12*time.Hour)
	var batch []vitals.Reading
	patients := []string{"n1", "n2", "n3"}
	for _, p := range patients {
		for d := 0; d < 10; d++ {
			for m := 0; m < 6*60; m += 2 {
				batch = append(batch, storetest.Reading(p, "w-"+p, vitals.HeartRate, day0.Add(time.Duration(d)*24*time.Hour+time.Duration(m)*time.Minute), 58))
			}
		}
		batch = append(batch, storetest.Reading(p, "w-"+p, vitals.HeartRate, now.Add(-30*time.Minute), 70))
	}
	require.NoError(t, sq.Write(ctx, batch))
	start := func() *hrFrom {
		engine := alerts.NewEngine(alerts.DefaultRules(), func(string) alerts.PatientInfo { return alerts.PatientInfo{Scale: 1} })
		svc := alerts.NewService(engine, alerts.NewStore(records), nil, zerolog.Nop(), nil)
		svc.SetClock(func() time.Time { return now })
		store := &hrFrom{Store: sq}
		require.NoError(t, svc.Warm(ctx, store, patients))
		return store
	}
	first := start()
	require.True(t, first.earliest.Before(day0), "the first start reads four weeks: %v", first.earliest)
	kept, err := alerts.NewStore(records).BaselineDays(ctx, patients, 0)
	require.NoError(t, err)
	for _, p := range patients {
		require.Len(t, kept[p]["resting_heart_rate_above_baseline"], 10, "%s: the ten closed nights are kept", p)
	}
	second := start()
	require.True(t, second.earliest.IsZero() || !second.earliest.Before(day0.Add(10*24*time.Hour)),
		"the second start reads no night already kept: %v", second.earliest)
}
