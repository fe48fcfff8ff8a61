// Package app is Vitalwire's composition root: it opens the stores, builds
// every component from its section of the configuration, wires them to one
// another, runs them and shuts them down in order. It holds no domain
// logic and no handlers (those are in the domain packages and httpapi).
// cmd/vitalwire and the whole-service tests (test/...) use it; no other
// package imports it.
package app

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/smart"
	"github.com/vitalwire/vitalwire/auth/sso"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// Options are what a caller may add beyond the configuration.
type Options struct {
	// Sink, when set, also receives every durable batch (tests use it).
	Sink ingest.Sink
	// Clock, when set, is the time of the ingester's checks (a reading
	// from the future, a stale one) and of the rules engine (freshness,
	// no-data, escalation): a replay of simulated days at accelerated
	// time sets it to the simulated time. Default: the wall clock.
	Clock func() time.Time
	// AlertsEvery, when set, is how often the alerts service ticks (the
	// no-data checks, the personal baselines' day ends, escalation).
	// Default 5 s; a replay of simulated days at accelerated time sets it
	// short so that ticks fall within every simulated hour.
	AlertsEvery time.Duration
}

// App is a wired Vitalwire service.
type App struct {
	cfg     Config
	opts    Options
	log     zerolog.Logger
	metrics *prometheus.Registry
	records *sql.DB

	signer   *auth.Signer
	audit    *auth.AuditLog
	revoked  *auth.Revocations
	glass    *auth.BreakGlass
	sessions *auth.Sessions
	gate     *auth.Gate
	watcher  *auth.Watcher
	// Single sign-on (nil when not configured) and the FHIR API's SMART
	// Backend Services.
	sso   *sso.RP
	smart *smart.Server
	// The front door: password checks' slots, refusals of anonymous
	// callers aggregated in the audit log, per-source limits.
	hasher *auth.Hasher // people's passwords
	// deviceHasher checks device secrets, in slots of its own.
	deviceHasher *auth.Hasher
	refusals     *auth.Refusals
	anonLimit    *auth.Limiter
	signIn       *auth.Limiter
	disk         *sqldb.DiskWatch

	// checkpoints signs the audit chain's head outside the records.
	checkpoints *auth.Checkpointer
	// connRefused counts connections the listeners' limits closed.
	connRefused *prometheus.CounterVec

	devices    *devices.Registry
	chart      *chart.Chart
	encounters *chart.Encounters
	store      vitals.Store
	retention  *retention // nil: no SQLite store
	hub        *live.Hub

	engine *alerts.Engine
	alerts *alerts.Service
	hooks  *alerts.Webhooks

	visits   *telehealth.Visits
	sfu      *telehealth.SFU
	turn     *telehealth.TURNServer
	recorder *telehealth.Recorder

	ingester *ingest.Ingester
	consumer *ingest.Consumer
	broker   *broker.Broker
	// brokerAuthLimit limits an external broker's auth calls per source.
	brokerAuthLimit *auth.Limiter
	rejecter        ingest.Rejecter

	httpSrv *http.Server
	httpLn  net.Listener
	scheme  string // http or https
	sim     *simulators.Runner
	dev     DevAccess
	// closers run at close, last first.
	closers []func()
}

// New opens the stores and binds the listeners; Run starts the work. On
// error everything opened so far is closed and the error is returned as
// it is.
func New(ctx context.Context, cfg Config, log zerolog.Logger, opts Options) (*App, error) {
	a := &App{cfg: cfg, opts: opts, log: log, metrics: prometheus.NewRegistry(), scheme: "http"}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"metrics", a.initMetrics},
		{"records", a.openRecords},
		{"auth", a.initAuth},
		{"chart", a.initChart},
		{"sso and smart", a.initFederation},
		{"time series", a.openStore},
		{"telehealth", a.initTelehealth},
		{"alerts", a.initAlerts},
		{"ingest", a.initIngest},
		{"broker", a.initBroker},
		{"http", a.initHTTP},
		{"dev mode", a.initDev},
		{"simulated patients", a.initSimulation},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			a.close()
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
	}
	return a, nil
}

// onClose registers f to run at close, before what was opened earlier.
func (a *App) onClose(f func()) { a.closers = append(a.closers, f) }

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// URL is the base URL of the HTTP API.
func (a *App) URL() string { return a.scheme + "://" + a.httpLn.Addr().String() }

// BrokerAddr is the embedded broker's TCP address, or "".
func (a *App) BrokerAddr() string {
	if a.broker == nil {
		return ""
	}
	return a.broker.Addr()
}

// Run serves until ctx ends, then shuts down in reverse order of the data
// flow: simulated devices, HTTP, the subscription (after draining in-flight
// messages so that they are acknowledged), the ingester, the broker, the
// background duties, and last the stores.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := newGroup(cancel)
	brokerCtx, stopBroker := context.WithCancel(context.Background())
	ingestCtx, stopIngest := context.WithCancel(context.Background())
	dutyCtx, stopDuties := context.WithCancel(context.Background())
	defer stopBroker()
	defer stopIngest()
	defer stopDuties()

	var brokerDone <-chan struct{}
	if a.broker != nil {
		brokerDone = g.run("broker", a.broker.Run, brokerCtx)
	}
	duties := []<-chan struct{}{
		g.run("devices", func(c context.Context) error { return a.devices.Run(c, 5*time.Second) }, dutyCtx),
		g.run("alerts", func(c context.Context) error { return a.alerts.Run(c, cmp.Or(a.opts.AlertsEvery, 5*time.Second)) }, dutyCtx),
		g.run("webhooks", a.hooks.Run, dutyCtx),
		g.run("sessions", a.sweepSessions, dutyCtx),
		// Stopped with the duties, after HTTP: its last checkpoint covers
		// every event the service wrote.
		g.run("audit checkpoints", a.checkpoints.Run, dutyCtx),
		g.run("access", a.watcher.Run, dutyCtx),
		// Stops after HTTP: the last windows' aggregated refusals are written.
		g.run("refusals", func(c context.Context) error {
			return a.refusals.Run(c, func(err error) { a.log.Error().Err(err).Msg("aggregated refusals not yet audited") })
		}, dutyCtx),
		g.run("disk", a.disk.Run, dutyCtx),
		g.run("retention", a.retention.Run, dutyCtx),
	}
	ingestDone := g.run("ingest", a.ingester.Run, ingestCtx)
	subscriptionDone := g.run("ingest drain", a.subscription, ctx)
	httpDone := g.run("http", func(context.Context) error {
		if err := a.httpSrv.Serve(a.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, ctx)
	var fleetDone <-chan struct{}
	if a.sim != nil {
		fleetDone = g.run("simulator", func(c context.Context) error { _, err := a.sim.Run(c); return err }, ctx)
	}
	a.log.Info().Str("http", a.URL()).Str("broker", a.BrokerAddr()).Str("store", a.cfg.Store.Kind).Msg("vitalwire running")

	<-ctx.Done()
	a.log.Info().Msg("shutting down: draining in-flight readings")
	if fleetDone != nil {
		<-fleetDone
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	a.httpSrv.Shutdown(sctx)
	scancel()
	<-httpDone
	<-subscriptionDone // drained and disconnected
	stopIngest()
	<-ingestDone
	stopBroker()
	if brokerDone != nil {
		<-brokerDone
	}
	stopDuties()
	for _, d := range duties {
		<-d
	}
	a.close()
	return g.wait()
}

// subscription receives devices' messages until ctx ends: through the
// external broker's subscription, or, with the embedded broker (which
// hands messages over directly), nothing but the drain at shutdown.
func (a *App) subscription(ctx context.Context) error {
	if a.consumer != nil {
		return a.consumer.Run(ctx)
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return a.ingester.Drain(dctx)
}

// sweepSessions deletes ended browser sessions and used sign-in links
// past their expiry, every ten minutes.
func (a *App) sweepSessions(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.sessions.Sweep(ctx); err != nil && ctx.Err() == nil {
				a.log.Error().Err(err).Msg("session sweep failed")
			}
		}
	}
}

// ReloadRules reads the rules file again (or the default set) and swaps it
// in. A bad file is refused whole and the rules in force stay.
func (a *App) ReloadRules() (int, error) {
	rules, err := a.loadRules()
	if err != nil {
		a.log.Error().Err(err).Msg("rules reload refused; the rules in force stay")
		return 0, err
	}
	a.alerts.SetRules(rules)
	a.log.Info().Int("rules", len(rules.Rules)).Msg("rules reloaded")
	return len(rules.Rules), nil
}

func (a *App) loadRules() (*alerts.RuleSet, error) {
	if a.cfg.Alerts.RulesFile == "" {
		return alerts.DefaultRules(), nil
	}
	rules, err := alerts.LoadRules(a.cfg.Alerts.RulesFile)
	if err != nil {
		return nil, fmt.Errorf("alerts.rules_file: %w", err)
	}
	return rules, nil
}

// group runs the service's long-lived parts; the first to fail stops the
// service, and wait reports every failure.
type group struct {
	cancel context.CancelFunc
	errc   chan error
}

func newGroup(cancel context.CancelFunc) *group {
	return &group{cancel: cancel, errc: make(chan error, 16)}
}

func (g *group) run(name string, f func(context.Context) error, ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.errc <- fmt.Errorf("%s: %w", name, err)
			g.cancel()
		}
	}()
	return done
}

func (g *group) wait() error {
	close(g.errc)
	var errs []error
	for err := range g.errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
