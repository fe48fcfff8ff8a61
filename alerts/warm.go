package alerts

import (
	"context"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// warmChunk is how many patients the warm-up holds at a time: the
// store's reads across patients cut it further into their own chunks;
// this bounds the readings in memory at once.
const warmChunk = 2000

// WarmStore is what the warm-up reads: recent readings and 5-minute
// means, of many patients at once.
type WarmStore interface {
	RangeOf(ctx context.Context, q vitals.PatientsQuery) (map[string][]vitals.Reading, error)
	AggregateOf(ctx context.Context, q vitals.PatientsAggregateQuery) (map[string]map[vitals.Type][]vitals.Window, error)
}

// SaveBaselines keeps the baseline days closed since it last ran (the
// service's Run calls it every interval, and the warm-up at its end); a
// failure is logged, and the next start reads those days from the store.
func (s *Service) SaveBaselines(ctx context.Context) {
	days := s.baselines.TakeClosed()
	if len(days) == 0 {
		return
	}
	if err := s.store.SaveBaselineDays(ctx, days, s.now().Unix()/86400-baselineDays-2); err != nil {
		s.log.Error().Err(err).Int("days", len(days)).Msg("baseline days not kept")
	}
}

// Warm marks the open alerts as firing in the engine, so that a restart
// does not fire them again, rebuilds the personal baselines, then replays
// the recent readings the rules look back over (ReplayWindow) so that a
// running "for 2 min" is not lost. It reads by chunks of patients: per
// chunk one query per baseline vital and one of the recent readings,
// each bounded in time, whatever the number of patients.
func (s *Service) Warm(ctx context.Context, readings WarmStore, patients []string) error {
	open, err := s.store.Open(ctx)
	if err != nil {
		return err
	}
	for _, a := range open {
		s.engine.MarkFiring(a.Patient, a.Rule)
		if r, ok := s.rule(a.Rule, KindBaseline); ok {
			s.baselines.MarkFiring(a.Patient, r.ID)
		}
		s.track(a)
	}
	now := s.now()
	set := s.engine.Rules()
	back := set.ReplayWindow()
	// The days the rebuild closed are kept, so that the next start
	// reads only the days after them from the store.
	defer s.SaveBaselines(ctx)
	for lo := 0; lo < len(patients); lo += warmChunk {
		chunk := patients[lo:min(lo+warmChunk, len(patients))]
		// Daily values of the last four weeks from the store's 5-minute
		// means; the replayed window comes with the replay below.
		kept, err := s.store.BaselineDays(ctx, chunk, now.Unix()/86400-baselineDays-2)
		if err != nil {
			return err
		}
		if err := s.baselines.Rebuild(ctx, readings, chunk, set, now.Add(-back), kept); err != nil {
			return err
		}
		recent, err := readings.RangeOf(ctx, vitals.PatientsQuery{Patients: chunk, From: now.Add(-back), To: now.Add(time.Minute)})
		if err != nil {
			return err
		}
		for _, p := range chunk {
			if rs := recent[p]; len(rs) > 0 {
				s.Readings(rs)
			}
		}
	}
	return nil
}

// ReplayWindow is how far back the warm-up replays readings into the
// engine: readings within the freshness are judged again, those before
// only remembered, as the windows that judge them look back: a
// threshold's median and its breach's start (its duration and the sparse
// window), a short rate rule's window, NEWS2's latest of each parameter
// (an hour). At least 15 minutes, at most the hour the engine keeps.
func (rs *RuleSet) ReplayWindow() time.Duration {
	w := 15 * time.Minute
	for i := range rs.Rules {
		r := &rs.Rules[i]
		switch r.Kind {
		case KindThreshold:
			w = max(w, rs.Freshness+r.For+sparseWindow)
		case KindRate:
			if r.Window <= news2Window {
				w = max(w, rs.Freshness+r.Window)
			}
		case KindNEWS2:
			w = news2Window
		}
	}
	return min(w, news2Window)
}
