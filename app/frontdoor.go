package app

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/sqldb"
)

// initFrontDoor builds the limits on what callers without credentials can
// make the service do (auth's section: hash slots, per-source limits,
// aggregated refusals) and the free-space alarm, with their metrics.
func (a *App) initFrontDoor() error {
	c := a.cfg.Auth
	a.hasher = auth.NewHasher(c.HashConcurrency, c.HashWait)
	a.sessions.SetHasher(a.hasher)
	a.deviceHasher = auth.NewHasher(c.DeviceHashConcurrency, c.HashWait)
	a.refusals = auth.NewRefusals(a.audit, c.RefusalWindow)
	a.anonLimit = auth.NewLimiter(c.AnonymousPerMinute, c.AnonymousBurst, 0)
	a.signIn = auth.NewLimiter(c.LoginPerMinute, c.LoginBurst, 0)

	dirs := []string{a.cfg.DataDir, filepath.Dir(a.cfg.Records.Path), a.cfg.Ingest.SpoolDir}
	if a.cfg.Store.Kind == "sqlite" {
		dirs = append(dirs, filepath.Dir(a.cfg.Store.SQLitePath))
	}
	a.disk = sqldb.NewDiskWatch(a.cfg.Disk, dirs...)
	log := a.log.With().Str("component", "disk").Logger()
	a.disk.Low = func(free, threshold int64) {
		log.Warn().Int64("free_bytes", free).Int64("warn_free_bytes", threshold).
			Msg("disk space low: when the data disk is full, every access to patient data fails (its audit event cannot be written)")
	}
	a.disk.OK = func(free int64) { log.Info().Int64("free_bytes", free).Msg("disk space back above the threshold") }
	a.disk.Failed = func(err error) { log.Error().Err(err).Msg("free space not measured") }
	a.disk.Check()

	hs := func() auth.HasherStats { return a.hasher.Stats() }
	a.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_password_hash_inflight",
			Help: "Password checks and hashes (argon2id) running now."},
			func() float64 { return float64(hs().InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_password_hash_inflight_max",
			Help: "The most password checks that ran at once since start (at most auth.hash_concurrency)."},
			func() float64 { return float64(hs().MaxInFlight) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_password_hash_total",
			Help: "Password checks and hashes done."}, func() float64 { return float64(hs().Checks) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_password_hash_busy_total",
			Help: "Sign-ins turned away because every password slot stayed taken for auth.hash_wait."},
			func() float64 { return float64(hs().Busy) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_device_secret_checks_total",
			Help: "Device secret checks (MQTT connections) done."}, func() float64 { return float64(a.deviceHasher.Stats().Checks) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_device_secret_busy_total",
			Help: "Device connections turned away because every device-secret slot stayed taken for auth.hash_wait."},
			func() float64 { return float64(a.deviceHasher.Stats().Busy) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_anonymous_refusals_total",
			Help: "Requests refused for want of a valid credential (each in the audit log, aggregated per source)."},
			func() float64 { return float64(a.refusals.Total()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_rate_limited_total",
			Help: "Requests answered 429 by a per-source limit.", ConstLabels: prometheus.Labels{"limit": "anonymous"}},
			func() float64 { return float64(a.anonLimit.Denied()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_rate_limited_total",
			Help: "Requests answered 429 by a per-source limit.", ConstLabels: prometheus.Labels{"limit": "sign_in"}},
			func() float64 { return float64(a.signIn.Denied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_data_free_bytes",
			Help: "Free bytes of the least free filesystem holding the data (records, store, spool)."},
			func() float64 { return float64(a.disk.Free()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_data_disk_low",
			Help: "1 when the data's free space is below disk.warn_free_bytes."},
			func() float64 {
				if a.disk.IsLow() {
					return 1
				}
				return 0
			}),
	)
	return nil
}
