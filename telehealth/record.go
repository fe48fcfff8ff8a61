package telehealth

import (
	"context"
	"time"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/vitals"
)

// Readings are the time-series reads an Encounter's summaries need.
type Readings interface {
	Aggregate(ctx context.Context, q vitals.AggregateQuery) ([]vitals.Window, error)
	Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error)
}

// AlertSource lists a patient's alerts that fired within a window.
type AlertSource interface {
	AlertsBetween(ctx context.Context, patient string, from, to time.Time) ([]chart.EncounterAlert, error)
}

// Recorder ends visits and writes them to the chart: the Encounter with
// its period, its participants, a summary of each vital over the visit and
// the look-back before it, and the alerts of that window.
type Recorder struct {
	Visits     *Visits
	Encounters *chart.Encounters
	Readings   Readings
	Alerts     AlertSource
	SFU        *SFU
	// Lookback is how far before the visit the attached readings reach.
	Lookback time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (r *Recorder) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// End hangs everyone up, records the end and attaches the Encounter.
func (r *Recorder) End(ctx context.Context, id, note string) (chart.Encounter, error) {
	v, err := r.Visits.End(ctx, id, note)
	if err != nil {
		return chart.Encounter{}, err
	}
	r.SFU.EndVisit(id)
	return r.Attach(ctx, v)
}

// Attach records the visit's Encounter as the visit stands: one attached
// before the visit ends is planned or in progress, and is amended (a new
// version) by a later attach and by the end; a finished one does not
// change again.
func (r *Recorder) Attach(ctx context.Context, v Visit) (chart.Encounter, error) {
	if enc, err := r.Encounters.Get(ctx, v.ID); err == nil && enc.Final() {
		return enc, nil
	}
	now := r.now().UTC()
	status := chart.EncounterPlanned
	switch v.State {
	case Waiting:
		status = chart.EncounterArrived
	case InProgress:
		status = chart.EncounterInProgress
	case Ended:
		status = chart.EncounterFinished
	}
	// Until the visit ends its period is open, from its start (or, before
	// it starts, the time it is scheduled for), and the window of its
	// readings and alerts reaches now.
	end, until := v.EndedAt, v.EndedAt
	if status != chart.EncounterFinished {
		end, until = time.Time{}, now
	} else if end.IsZero() {
		end, until = now, now
	}
	start := v.StartedAt
	if start.IsZero() {
		start = v.ScheduledAt
	}
	from := start
	if from.After(until) {
		from = until // a visit scheduled ahead: the look-back from now
	}
	enc := chart.Encounter{ID: v.ID, Patient: v.Patient, Status: status, Start: start, End: end, WindowStart: from.Add(-r.Lookback),
		Participants: []chart.EncounterParticipant{}, Summaries: []chart.VitalSummary{}, Alerts: []chart.EncounterAlert{},
		Note: v.Note, AttachedAt: now, UpdatedAt: now}
	for _, p := range v.Presence {
		left := p.LeftAt
		if left.IsZero() && status == chart.EncounterFinished {
			left = end
		}
		enc.Participants = append(enc.Participants, chart.EncounterParticipant{Subject: p.Subject, Role: p.Role, Start: p.JoinedAt, End: left})
	}
	for _, m := range v.Chat {
		enc.Chat = append(enc.Chat, chart.EncounterMessage(m))
	}
	for _, t := range vitals.Types() {
		s, ok, err := r.summary(ctx, vitals.Query{Patient: v.Patient, Type: t, From: enc.WindowStart, To: until.Add(time.Millisecond)})
		if err != nil {
			return chart.Encounter{}, err
		}
		if ok {
			enc.Summaries = append(enc.Summaries, s)
		}
	}
	als, err := r.Alerts.AlertsBetween(ctx, v.Patient, enc.WindowStart, until)
	if err != nil {
		return chart.Encounter{}, err
	}
	enc.Alerts = append(enc.Alerts, als...)
	stored, _, err := r.Encounters.Attach(ctx, enc)
	return stored, err
}

// summary is one vital over the window: count, min, max, mean and the
// last reading; ok is false when the window has none.
func (r *Recorder) summary(ctx context.Context, q vitals.Query) (chart.VitalSummary, bool, error) {
	ws, err := r.Readings.Aggregate(ctx, vitals.AggregateQuery{Query: q})
	if err != nil || len(ws) == 0 || ws[0].Count == 0 {
		return chart.VitalSummary{}, false, err
	}
	q.Limit, q.Newest = 1, true // the last reading only
	rs, err := r.Readings.Range(ctx, q)
	if err != nil {
		return chart.VitalSummary{}, false, err
	}
	spec, _ := vitals.Lookup(q.Type)
	s := chart.VitalSummary{Type: string(q.Type), Unit: spec.Canonical, Count: ws[0].Count, Min: ws[0].Min, Max: ws[0].Max, Mean: ws[0].Mean}
	if len(rs) > 0 {
		last := rs[0]
		s.Last, s.LastTime = last.Value, last.Time
		if spec.IsPanel() {
			d := last.Diastolic
			s.LastDia = &d
		}
	}
	return s, true, nil
}
