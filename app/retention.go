package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// retentionEvery is how often the SQLite store's old readings are deleted.
const retentionEvery = time.Hour

// retention deletes the SQLite store's readings past store.retention:
// once at start, then hourly, in bounded batches. Each pass that deletes
// anything is an audit event (a change of patient data by the system).
type retention struct {
	a       *App
	store   *sqlitestore.Store
	deleted prometheus.Counter
	lastRun prometheus.Gauge
}

func newRetention(a *App, st *sqlitestore.Store) *retention {
	r := &retention{a: a, store: st,
		deleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_vitals_retention_deleted_total",
			Help: "Readings deleted from the SQLite store for being older than store.retention."}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitalwire_vitals_retention_last_run_timestamp_seconds",
			Help: "When the last retention pass over the SQLite store finished (0: never; retention off)."}),
	}
	a.metrics.MustRegister(r.deleted, r.lastRun)
	return r
}

// Run deletes old readings until ctx ends; with no retention set, or no
// SQLite store, it only waits.
func (r *retention) Run(ctx context.Context) error {
	if r == nil || r.a.cfg.Store.Retention <= 0 {
		<-ctx.Done()
		return nil
	}
	for {
		r.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retentionEvery):
		}
	}
}

func (r *retention) pass(ctx context.Context) {
	now := time.Now()
	if r.a.opts.Clock != nil {
		now = r.a.opts.Clock()
	}
	cutoff := now.Add(-r.a.cfg.Store.Retention).UTC()
	n, err := r.store.DeleteBefore(ctx, cutoff, r.a.cfg.Store.RetentionBatch)
	r.deleted.Add(float64(n))
	if err != nil {
		if ctx.Err() == nil {
			r.a.log.Error().Err(err).Int64("deleted", n).Msg("retention pass failed; retrying in an hour")
		}
	} else {
		r.lastRun.SetToCurrentTime()
	}
	if n == 0 {
		return
	}
	r.a.log.Info().Int64("deleted", n).Time("before", cutoff).Msg("retention: old readings deleted")
	if _, err := r.a.audit.Append(context.WithoutCancel(ctx), auth.Event{Actor: "system", Role: "system", Action: "DELETE readings (store.retention)",
		Resource: fmt.Sprintf("readings before %s: %d deleted", cutoff.Format(time.RFC3339), n), Outcome: auth.Allowed}); err != nil {
		r.a.log.Error().Err(err).Msg("retention pass not audited")
	}
}
