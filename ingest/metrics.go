package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwire/vitalwire/vitals"
)

// Metrics are the ingest path's Prometheus metrics.
type Metrics struct {
	Accepted     prometheus.Counter
	Duplicates   prometheus.Counter
	Refused      *prometheus.CounterVec // readings, by reason
	Messages     prometheus.Counter
	InFlight     prometheus.Gauge
	StoreWrite   prometheus.Histogram
	StoreErrors  prometheus.Counter
	Spooled      prometheus.Counter
	SpoolBytes   prometheus.GaugeFunc
	SpoolBatches prometheus.GaugeFunc
	Replayed     prometheus.Counter
	Connected    prometheus.Gauge // subscriber connections up
	DeadLettered prometheus.Counter
	// Lag is, per reading, the time from its own timestamp to it being
	// durable: publish-to-durable for live devices (whose timestamp is the
	// publish time), plus buffering for late uploads.
	Lag           prometheus.Histogram
	spoolStatFunc func() (int64, int64)
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_readings_accepted_total",
			Help: "Readings stored durably (first delivery)."}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_readings_duplicate_total",
			Help: "Readings dropped because the same (device, type, time) was already stored."}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwire_readings_refused_total",
			Help: "Readings refused, by reason (a refused whole message counts once)."}, []string{"reason"}),
		Messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_messages_received_total",
			Help: "Reading messages received from the broker."}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitalwire_ingest_inflight_messages",
			Help: "Messages received and not yet acknowledged."}),
		StoreWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vitalwire_store_write_seconds",
			Help: "Latency of batch writes to the vitals store.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		StoreErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_store_write_errors_total",
			Help: "Batch writes to the vitals store that failed (the batch was spooled)."}),
		Spooled: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_spool_readings_total",
			Help: "Readings written to the on-disk spool."}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_spool_replayed_readings_total",
			Help: "Readings replayed from the spool into the store."}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitalwire_ingest_broker_connections",
			Help: "Subscriber connections to the broker that are up."}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_spool_dead_letter_readings_total",
			Help: "Spooled readings the store refused as invalid, moved to the dead-letter file."}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vitalwire_ingest_reading_lag_seconds",
			Help:    "Time from a reading's timestamp to it being durable (readings that carried a time).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
	}
	for _, r := range vitals.Reasons() {
		m.Refused.WithLabelValues(string(r))
	}
	m.SpoolBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_spool_bytes",
		Help: "Size of the on-disk spool."}, func() float64 {
		if m.spoolStatFunc == nil {
			return 0
		}
		b, _ := m.spoolStatFunc()
		return float64(b)
	})
	m.SpoolBatches = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_spool_batches",
		Help: "Batches waiting in the spool for the store."}, func() float64 {
		if m.spoolStatFunc == nil {
			return 0
		}
		_, n := m.spoolStatFunc()
		return float64(n)
	})
	if reg != nil {
		reg.MustRegister(m.Accepted, m.Duplicates, m.Refused, m.Messages, m.InFlight, m.StoreWrite, m.StoreErrors,
			m.Spooled, m.SpoolBytes, m.SpoolBatches, m.Replayed, m.Connected, m.DeadLettered, m.Lag)
	}
	return m
}
