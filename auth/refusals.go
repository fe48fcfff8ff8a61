package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Refusals audits the refusals of callers without valid credentials (no
// token, a forged or expired one, a bad sign-in or join link) so that the
// trail stays complete without being a disk-filling tool. Per source
// address and window, the first refusal is written at once as an event of
// its own, like any other; the others are counted, and when the window
// ends one aggregated event says how many there were (count=N: exactly
// the refusals not written on their own), how many of them were rate
// limited, and which patients they asked for. An anonymous flood thus
// writes at most two events per source and window.
//
// Refusals of authenticated callers are not aggregated: they are
// attributable, and each stays an event of its own.
type Refusals struct {
	audit      *AuditLog
	window     time.Duration
	maxSources int
	now        func() time.Time

	mu      sync.Mutex
	tallies map[string]*tally // by source, the open windows
	due     []*tally          // windows ended, not yet written
	total   uint64
}

// ActionAggregated is the action of an aggregated refusal event.
const ActionAggregated = "refused without credentials (aggregated)"

// maxListed bounds the patients an aggregated event names.
const maxListed = 8

// overflowSource aggregates the sources past maxSources.
const overflowSource = "*"

type tally struct {
	source     string
	start      time.Time
	n, limited int      // refusals after the first
	patients   []string // distinct, at most maxListed
	others     int      // refusals about patients not listed
}

// NewRefusals aggregates into audit over window (default 1 min).
func NewRefusals(audit *AuditLog, window time.Duration) *Refusals {
	if window <= 0 {
		window = time.Minute
	}
	return &Refusals{audit: audit, window: window, maxSources: 10_000, now: time.Now, tallies: map[string]*tally{}}
}

// Refuse audits one refusal of a caller without valid credentials asking
// for patient ("" for none) with q; limited says it was answered 429. An
// error means the refusal could not be audited (the caller must then get
// 503, as for any access that cannot be audited).
func (r *Refusals) Refuse(ctx context.Context, patient string, q Request, limited bool) error {
	if err := checkEvent(Event{Patient: patient, Resource: q.Resource}); err != nil {
		return err
	}
	source := SourceKey(q.Source)
	r.mu.Lock()
	r.total++
	now := r.now()
	t := r.tallies[source]
	if t != nil && now.Sub(t.start) >= r.window {
		r.due = append(r.due, t)
		delete(r.tallies, source)
		t = nil
	}
	if t == nil && len(r.tallies) >= r.maxSources {
		source = overflowSource
		t = r.tallies[source]
	}
	if t != nil {
		t.add(patient, limited)
		r.mu.Unlock()
		return nil
	}
	t = &tally{source: source, start: now}
	r.tallies[source] = t
	r.mu.Unlock()

	ev := q.event(Claims{}, patient)
	if _, err := r.audit.Append(ctx, ev); err != nil {
		r.mu.Lock()
		if r.tallies[source] == t && t.n == 0 {
			delete(r.tallies, source) // the next refusal is written on its own again
		}
		r.mu.Unlock()
		return err
	}
	return nil
}

func (t *tally) add(patient string, limited bool) {
	t.n++
	if limited {
		t.limited++
	}
	switch {
	case slices.Contains(t.patients, patient):
	case len(t.patients) < maxListed:
		t.patients = append(t.patients, patient)
	default:
		t.others++
	}
}

// event is the aggregated event of a window. It names the patient when
// all its refusals were about one, so that the patient's own trail shows
// it.
func (t *tally) event(end time.Time) Event {
	ev := Event{Actor: "anonymous", Action: ActionAggregated, Outcome: Refused, Source: t.source}
	if len(t.patients) == 1 && t.others == 0 {
		ev.Patient = t.patients[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "count=%d limited=%d from=%s to=%s patients=%s", t.n, t.limited,
		t.start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), strings.Join(t.patients, ","))
	if t.others > 0 {
		fmt.Fprintf(&b, " others=%d", t.others)
	}
	ev.Resource = b.String()
	return ev
}

// Total is how many refusals were audited through r.
func (r *Refusals) Total() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Flush writes the aggregated events of the windows that have ended (all
// of them when all is set). A window whose event cannot be written is
// kept for the next flush: the count is never lost while the process
// runs.
func (r *Refusals) Flush(ctx context.Context, all bool) error {
	r.mu.Lock()
	now := r.now()
	for source, t := range r.tallies {
		if all || now.Sub(t.start) >= r.window {
			r.due = append(r.due, t)
			delete(r.tallies, source)
		}
	}
	due := r.due
	r.due = nil
	r.mu.Unlock()
	for i, t := range due {
		if t.n == 0 {
			continue
		}
		if _, err := r.audit.Append(ctx, t.event(earlier(now, t.start.Add(r.window)))); err != nil {
			r.mu.Lock()
			r.due = append(r.due, due[i:]...)
			r.mu.Unlock()
			return fmt.Errorf("write aggregated refusals: %w", err)
		}
	}
	return nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Run writes each window's aggregated event soon after the window ends,
// and all that are open when ctx ends (run it until the HTTP server has
// stopped). Failures are reported to onError and retried.
func (r *Refusals) Run(ctx context.Context, onError func(error)) error {
	t := time.NewTicker(min(max(r.window/4, 50*time.Millisecond), 5*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return r.Flush(fctx, true)
		case <-t.C:
			if err := r.Flush(ctx, false); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}
