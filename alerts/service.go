package alerts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// Notifier is told of every alert change (live delivery).
type Notifier interface {
	AlertChanged(a Alert)
}

// EscalationNotifier, when the Notifier also is one, hears who is paged
// when an alert escalates.
type EscalationNotifier interface {
	Escalated(a Alert, contacts []string)
}

// ScoreNotifier, when the Notifier also is one, hears of every change of a
// patient's NEWS2 total or band.
type ScoreNotifier interface {
	ScoreChanged(patient string, s news2.Score)
}

// Service runs the engine on durable readings, keeps the alerts' lifecycle
// in the store, and tells the notifier. It is the ingester's sink for rules.
type Service struct {
	hooks         *Webhooks
	contacts      func(ctx context.Context, patient string) ([]string, error)
	escalateAfter time.Duration
	engine        *Engine
	store         *Store
	notify        Notifier
	log           zerolog.Logger
	now           func() time.Time
	scoreMu       sync.Mutex
	lastScore     map[string]news2.Score // by patient
	fired         *prometheus.CounterVec
	toAck         prometheus.Histogram
	// overrides are per-patient rule levels: patient -> rule -> override.
	overridesMu sync.RWMutex
	overrides   map[string]map[string]Override
	// open are the open alerts by patient and id (track).
	openMu sync.Mutex
	open   map[string]map[int64]Alert
	// snooze bounds a snooze's length (SetSnoozeLimits).
	snooze SnoozeLimits
	// baselines are the patients' own daily values (baseline rules).
	baselines *Baselines
	// kept are the transitions the store refused, written later in order
	// (SetPendingFile); nil: none kept. They are written once Run has
	// begun (running): while the service starts, its notifiers and
	// webhooks are not ready for the changes they make.
	kept    *pending
	running atomic.Bool
}

// SetPendingFile keeps the transitions the records database refuses in
// the file at path, and writes them, in order, once it answers (on the
// next transition or tick); transitions kept by an earlier run are read
// back now.
func (s *Service) SetPendingFile(path string) error {
	p, err := openPending(path)
	if err != nil {
		return err
	}
	s.kept = p
	if n := p.len(); n > 0 {
		s.log.Warn().Int("transitions", n).Msg("alert transitions kept from an earlier run: writing them when the records database answers")
	}
	return nil
}

// writeKept writes the kept transitions; it reports whether none is left.
func (s *Service) writeKept(ctx context.Context) bool {
	if s.kept == nil || s.kept.len() == 0 {
		return true
	}
	if !s.running.Load() {
		return false
	}
	written, err := s.kept.drain(func(tr Transition) (Alert, bool, error) { return s.write(ctx, tr) })
	var groups []int64
	for _, a := range written {
		s.changed("alert."+a.State, a)
		groups = addGroup(groups, a.Group)
	}
	for _, g := range groups {
		s.problemChanged(ctx, g)
	}
	if len(written) > 0 || err == nil {
		s.log.Info().Int("changed", len(written)).Int("left", s.kept.len()).Msg("kept alert transitions written")
	}
	return s.kept.len() == 0
}

// NewService wires the parts; reg may be nil.
func NewService(engine *Engine, store *Store, notify Notifier, log zerolog.Logger, reg prometheus.Registerer) *Service {
	s := &Service{engine: engine, store: store, notify: notify, log: log.With().Str("component", "alerts").Logger(), now: time.Now, baselines: NewBaselines(),
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwire_alerts_fired_total",
			Help: "Alerts opened, by rule and severity."}, []string{"rule", "severity"}),
		toAck: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vitalwire_alert_time_to_ack_seconds",
			Help: "Time from an alert firing to a clinician acknowledging it.", Buckets: prometheus.ExponentialBuckets(5, 2, 12)}),
	}
	if reg != nil {
		reg.MustRegister(s.fired, s.toAck)
	}
	return s
}

// SetClock sets the service's time (a replay at accelerated time).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetEscalation raises alerts not acknowledged within after (0: never).
func (s *Service) SetEscalation(after time.Duration) { s.escalateAfter = after }

// SetContacts tells the service whom to page when a patient's alert
// escalates.
func (s *Service) SetContacts(f func(ctx context.Context, patient string) ([]string, error)) {
	s.contacts = f
}

// SetWebhooks makes the service deliver every alert change to webhooks.
func (s *Service) SetWebhooks(w *Webhooks) { s.hooks = w }

// changed tells the live view of one alert's change (event, such as
// "alert.firing"); the webhooks hear of its problem (problemChanged).
func (s *Service) changed(event string, a Alert) {
	s.log.Debug().Int64("alert", a.ID).Int64("group", a.Group).Str("event", event).Msg("alert changed")
	s.track(a)
	if s.notify != nil {
		s.notify.AlertChanged(a)
	}
}

// ProblemNotifier, when the Notifier also is one, hears of every change of
// a problem (a group of alerts that is one notification).
type ProblemNotifier interface {
	ProblemChanged(p Problem)
}

// problemChanged tells the live view of a problem's change, and the
// webhooks once per problem: when it opens, again only when a more severe
// alert joins it (a new lead), and when its last alert is resolved. The
// deliveries are keyed by the lead alert, so a repeat changes nothing.
func (s *Service) problemChanged(ctx context.Context, group int64) {
	p, err := s.store.Problem(ctx, group)
	if err != nil {
		s.log.Error().Err(err).Int64("group", group).Msg("alert group unreadable")
		return
	}
	if pn, ok := s.notify.(ProblemNotifier); ok {
		pn.ProblemChanged(p)
	}
	if s.hooks == nil {
		return
	}
	event := ""
	switch p.State {
	case Firing:
		event = "alert.firing"
	case Acknowledged:
		event = "alert.acknowledged"
	case Resolved:
		event = "alert.resolved"
	}
	pl := s.payload(event, p.Lead, nil)
	pl.Problem = &p
	if err := s.hooks.EnqueuePayload(ctx, pl); err != nil {
		s.log.Error().Err(err).Int64("alert", p.Lead.ID).Msg("webhook enqueue failed")
	}
}

// addGroup adds g to gs once.
func addGroup(gs []int64, g int64) []int64 {
	if slices.Contains(gs, g) {
		return gs
	}
	return append(gs, g)
}

// escalated pages the escalation contacts of the patient's care teams:
// on the live view and in the webhook delivery.
func (s *Service) escalated(ctx context.Context, a Alert, p *Problem) {
	var contacts []string
	if s.contacts != nil {
		var err error
		if contacts, err = s.contacts(ctx, a.Patient); err != nil {
			s.log.Error().Err(err).Int64("alert", a.ID).Msg("escalation contacts unavailable")
		}
	}
	s.log.Warn().Int64("alert", a.ID).Str("rule", a.Rule).Str("severity", a.Severity).Int("contacts", len(contacts)).
		Msg("alert escalated: not acknowledged in time")
	if en, ok := s.notify.(EscalationNotifier); ok {
		en.Escalated(a, contacts)
	}
	if s.hooks != nil {
		pl := s.payload("alert.escalated", a, contacts)
		pl.Problem = p
		if err := s.hooks.EnqueuePayload(ctx, pl); err != nil {
			s.log.Error().Err(err).Int64("alert", a.ID).Msg("webhook enqueue failed")
		}
	}
}

// payload is the webhook delivery of an alert change, with the rule's
// details as they apply to the patient.
func (s *Service) payload(event string, a Alert, contacts []string) WebhookPayload {
	rule, known := s.engine.EffectiveRule(a.Patient, a.Rule)
	return WebhookPayload{Event: event, Alert: a, Contacts: contacts, Data: pagerData(event, a, rule, known, s.hooks.alertURL(a))}
}

// Readings implements the ingester's Sink.
func (s *Service) Readings(batch []vitals.Reading) {
	now := s.now()
	var groups []int64
	set := s.engine.Rules()
	s.engine.ObserveAll(batch, now, func(i int, trs []Transition) {
		for _, tr := range trs {
			if a, ok := s.apply(tr); ok {
				groups = addGroup(groups, a.Group)
			}
		}
		for _, tr := range s.baselines.Observe(batch[i], set, s.Overrides) {
			if a, ok := s.apply(tr); ok {
				groups = addGroup(groups, a.Group)
			}
		}
	})
	// One notification per problem and batch: a septic patient's alerts
	// that one upload completes go out once, led by the most severe.
	for _, g := range groups {
		s.problemChanged(context.Background(), g)
	}
	sn, ok := s.notify.(ScoreNotifier)
	if !ok {
		return
	}
	s.scoreMu.Lock()
	defer s.scoreMu.Unlock()
	if s.lastScore == nil {
		s.lastScore = map[string]news2.Score{}
	}
	var last string
	for _, r := range batch {
		if r.Patient == last || !isNEWS2Parameter(r.Type) {
			continue
		}
		last = r.Patient
		sc, ok := s.engine.Score(r.Patient, now)
		if old, seen := s.lastScore[r.Patient]; ok && (!seen || old.Total != sc.Total || old.Band != sc.Band || old.Partial != sc.Partial || !slices.Equal(old.Missing(), sc.Missing())) {
			s.lastScore[r.Patient] = sc
			sn.ScoreChanged(r.Patient, sc)
		}
	}
}

// Score is a patient's current NEWS2 (ok false: no readings yet).
func (s *Service) Score(patient string) (news2.Score, bool) { return s.engine.Score(patient, s.now()) }

// apply stores a transition; ok reports a changed alert. A transition the
// store refuses is kept (SetPendingFile) and written later, after any kept
// before it: the engine will not send it again.
func (s *Service) apply(tr Transition) (Alert, bool) {
	ctx := context.Background()
	if !s.writeKept(ctx) {
		s.keep(tr, nil)
		return Alert{}, false
	}
	a, changed, err := s.write(ctx, tr)
	if err != nil {
		s.keep(tr, err)
		return Alert{}, false
	}
	if changed {
		s.changed("alert."+a.State, a)
	}
	return a, changed
}

// keep puts tr after the kept transitions; err is why the store refused
// it (nil: others wait before it).
func (s *Service) keep(tr Transition, err error) {
	if s.kept == nil {
		s.log.Error().Err(err).Str("rule", tr.Rule.ID).Str("patient", tr.Patient).Bool("firing", tr.Firing).
			Msg("alert store failed: transition lost")
		return
	}
	if kerr := s.kept.add(tr); kerr != nil {
		s.log.Error().Err(err).AnErr("keep", kerr).Str("rule", tr.Rule.ID).Str("patient", tr.Patient).Bool("firing", tr.Firing).
			Msg("alert store failed, and the transition could not be kept: lost")
		return
	}
	if err != nil {
		s.log.Error().Err(err).Str("rule", tr.Rule.ID).Str("patient", tr.Patient).Bool("firing", tr.Firing).
			Msg("alert store failed: transition kept, written when the records database answers")
	}
}

// write stores a transition in the alerts store.
func (s *Service) write(ctx context.Context, tr Transition) (Alert, bool, error) {
	if tr.Firing && s.store.Snoozed(ctx, tr.Patient, tr.Rule.ID, tr.At) {
		s.log.Info().Str("rule", tr.Rule.ID).Str("patient", tr.Patient).Msg("alert snoozed")
		return Alert{}, false, nil
	}
	if tr.Firing {
		a, changed, err := s.store.Fire(ctx, tr)
		if err == nil && changed {
			s.fired.WithLabelValues(a.Rule, a.Severity).Inc()
			s.log.Info().Int64("alert", a.ID).Str("rule", a.Rule).Str("patient", a.Patient).Msg("alert fired")
		}
		return a, changed, err
	}
	a, changed, err := s.store.Clear(ctx, tr)
	if err == nil && changed {
		s.log.Info().Int64("alert", a.ID).Str("rule", a.Rule).Str("patient", a.Patient).Msg("alert resolved: condition cleared")
	}
	return a, changed, err
}

// Ack acknowledges an alert for a clinician, and with it the other
// unacknowledged alerts of its problem: the clinician answered one
// notification.
func (s *Service) Ack(ctx context.Context, id int64, by string) (Alert, error) {
	a, err := s.store.Ack(ctx, id, by, s.now())
	if err != nil {
		return a, err
	}
	s.toAck.Observe(a.AckedAt.Sub(a.FiredAt).Seconds())
	s.changed("alert."+a.State, a)
	s.eachOtherOpen(ctx, a, func(o Alert) (Alert, error) {
		if o.State != Firing {
			return o, ErrState
		}
		return s.store.Ack(ctx, o.ID, by, s.now())
	})
	s.problemChanged(ctx, a.Group)
	return a, nil
}

// Resolve closes an alert by hand, and the other open alerts of its
// problem with the same reason.
func (s *Service) Resolve(ctx context.Context, id int64, by, reason string) (Alert, error) {
	a, err := s.store.Resolve(ctx, id, by, reason, s.now())
	if err != nil {
		return a, err
	}
	s.changed("alert."+a.State, a)
	s.eachOtherOpen(ctx, a, func(o Alert) (Alert, error) { return s.store.Resolve(ctx, o.ID, by, reason, s.now()) })
	s.problemChanged(ctx, a.Group)
	return a, nil
}

// eachOtherOpen applies f to the other open alerts of a's problem and
// tells the live view of each change (ErrState: nothing to change).
func (s *Service) eachOtherOpen(ctx context.Context, a Alert, f func(Alert) (Alert, error)) {
	p, err := s.store.Problem(ctx, a.Group)
	if err != nil {
		s.log.Error().Err(err).Int64("group", a.Group).Msg("alert group unreadable")
		return
	}
	for _, o := range p.Alerts {
		if o.ID == a.ID || o.State == Resolved {
			continue
		}
		o, err := f(o)
		if errors.Is(err, ErrState) {
			continue
		}
		if err != nil {
			s.log.Error().Err(err).Int64("alert", o.ID).Msg("alert change failed")
			continue
		}
		s.changed("alert."+o.State, o)
	}
}

// Run evaluates the no-data rules, and escalates unacknowledged alerts,
// every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	s.running.Store(true)
	defer s.running.Store(false)
	s.writeKept(ctx)
	for {
		select {
		case <-ctx.Done():
			s.SaveBaselines(context.Background())
			return nil
		case <-t.C:
			s.Tick(ctx)
			s.SaveBaselines(ctx)
		}
	}
}

// Tick evaluates the no-data rules, closes the personal baselines' days
// whose hours have ended, and escalates unacknowledged alerts once, at the
// service's time: Run calls it every interval, and a replay
// in simulated time calls it as its clock advances.
func (s *Service) Tick(ctx context.Context) {
	s.writeKept(ctx)
	var groups []int64
	now := s.now()
	trs := append(s.engine.Tick(now), s.baselines.Tick(now, s.engine.Rules(), s.Overrides)...)
	for _, tr := range trs {
		if a, ok := s.apply(tr); ok {
			groups = addGroup(groups, a.Group)
		}
	}
	for _, g := range groups {
		s.problemChanged(ctx, g)
	}
	if s.escalateAfter > 0 {
		up, err := s.store.Escalate(ctx, now.Add(-s.escalateAfter), now)
		if err != nil {
			s.log.Error().Err(err).Msg("escalation failed")
		}
		// One page per problem: its lead, with the others inside.
		var paged []int64
		for _, a := range up {
			s.changed("alert.escalated", a)
			if slices.Contains(paged, a.Group) {
				continue
			}
			paged = append(paged, a.Group)
			p, err := s.store.Problem(ctx, a.Group)
			if err != nil {
				s.log.Error().Err(err).Int64("group", a.Group).Msg("alert group unreadable")
				s.escalated(ctx, a, nil)
				continue
			}
			s.escalated(ctx, p.Lead, &p)
			if pn, ok := s.notify.(ProblemNotifier); ok {
				pn.ProblemChanged(p)
			}
		}
	}
}
