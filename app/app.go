// Package app wires every component of Vitalwire into one running service:
// stores, device registry, broker, ingester, HTTP API, simulated patients.
// cmd/vitalwire and the end-to-end tests use it; no domain package imports
// it.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/simulators"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
	"github.com/vitalwire/vitalwire/vitals/news2"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
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
}

// App is a wired Vitalwire service.
type App struct {
	cfg     Config
	log     zerolog.Logger
	metrics *prometheus.Registry
	records *sql.DB
	Devices *devices.Registry
	Chart   *chart.Chart
	Audit   *auth.AuditLog
	Revoked *auth.Revocations
	Glass   *auth.BreakGlass
	Policy  *auth.Policy
	// Sessions are the browser UI's sign-ins.
	Sessions *auth.Sessions
	// Visits, Encounters and SFU run telehealth visits.
	Visits     *telehealth.Visits
	Encounters *chart.Encounters
	SFU        *telehealth.SFU
	turn       *telehealth.TURNServer
	Hub        *live.Hub
	Alerts     *alerts.Service
	engine     *alerts.Engine
	// overrides are per-patient rule levels: patient -> rule -> override.
	overridesMu sync.RWMutex
	overrides   map[string]map[string]alerts.Override
	hooks       *alerts.Webhooks
	ws          wsConns
	Store       vitals.Store
	Signer      *auth.Signer
	Ingester    *ingest.Ingester
	consumer    *ingest.Consumer
	broker      *broker.Broker
	httpSrv     *http.Server
	httpLn      net.Listener
	scheme      string // http or https
	sim         *simulators.Runner
	// AdminToken and ClinicianToken are minted in dev mode for the
	// newcomer and the CLI.
	AdminToken, ClinicianToken string
	// ClinicianSignIn and AdminSignIn are one-time links to the browser
	// UI, minted in dev mode.
	ClinicianSignIn, AdminSignIn string
}

// New opens the stores and binds the listeners; Run starts the work.
// On error everything opened so far is closed.
func New(ctx context.Context, cfg Config, log zerolog.Logger, opts Options) (a *App, err error) {
	a = &App{cfg: cfg, log: log, metrics: prometheus.NewRegistry(), scheme: "http"}
	defer func() {
		if err != nil {
			a.close()
			a = nil
		}
	}()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	routePahoLogs(log)
	if err = os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	key, err := auth.LoadOrCreateKey(cfg.Auth.SigningKeyFile)
	if err != nil {
		return nil, err
	}
	if a.Signer, err = auth.NewSigner(key); err != nil {
		return nil, err
	}
	if a.records, err = sqldb.OpenRecords(ctx, cfg.Records.Path); err != nil {
		return nil, err
	}
	if a.Devices, err = devices.Open(ctx, a.records); err != nil {
		return nil, err
	}
	if a.Chart, err = chart.Open(ctx, a.records); err != nil {
		return nil, err
	}
	if a.Audit, err = auth.OpenAuditLog(ctx, a.records); err != nil {
		return nil, err
	}
	if a.Revoked, err = auth.OpenRevocations(ctx, a.records); err != nil {
		return nil, err
	}
	a.Signer.CheckRevocations(a.Revoked)
	if a.Glass, err = auth.OpenBreakGlass(ctx, a.records, cfg.Auth.BreakGlassTTL); err != nil {
		return nil, err
	}
	a.Policy = &auth.Policy{Teams: a.Chart, BreakGlass: a.Glass}
	a.Sessions = auth.NewSessions(a.records, cfg.Auth.SessionIdle, cfg.Auth.SessionMaxAge)
	a.Visits = telehealth.NewVisits(a.records)
	a.Encounters = chart.NewEncounters(a.records)
	var turnCreds *telehealth.TURNCredentials
	if addr := cfg.Telehealth.EmbeddedTURNAddr; addr != "" {
		// One secret serves the embedded server and any external one.
		turnCreds = turnCredentials(cfg.Telehealth, addr)
		if a.turn, err = telehealth.StartTURN(addr, turnCreds); err != nil {
			return nil, err
		}
	} else {
		turnCreds = turnCredentials(cfg.Telehealth, "")
	}
	if a.SFU, err = telehealth.NewSFU(sfuConfig(cfg.Telehealth, turnCreds), log); err != nil {
		return nil, err
	}
	a.Hub = live.NewHub()
	a.Revoked.Watch(a.ws.revoked)
	switch cfg.Store.Kind {
	case "influx":
		a.Store, err = influxstore.New(cfg.Store.Influx)
	default:
		a.Store, err = sqlitestore.Open(ctx, cfg.Store.SQLitePath)
	}
	if err != nil {
		return nil, err
	}

	im := ingest.NewMetrics(a.metrics)
	rules := alerts.DefaultRules()
	if cfg.Alerts.RulesFile != "" {
		if rules, err = alerts.LoadRules(cfg.Alerts.RulesFile); err != nil {
			return nil, fmt.Errorf("alerts.rules_file: %w", err)
		}
	}
	engine := alerts.NewEngine(rules, func(patient string) alerts.PatientInfo {
		sc := a.Chart.ScoringOf(patient)
		a.overridesMu.RLock()
		ov := a.overrides[patient]
		a.overridesMu.RUnlock()
		return alerts.PatientInfo{Scale: sc.SpO2Scale, OnOxygen: sc.OnOxygen, Consciousness: news2.Consciousness(sc.Consciousness), Overrides: ov}
	})
	a.engine = engine
	a.Alerts = alerts.NewService(engine, alerts.NewStore(a.records), hubNotifier{a.Hub}, log, a.metrics)
	if opts.Clock != nil {
		a.Alerts.SetClock(opts.Clock)
	}
	if a.overrides, err = a.Alerts.Store().Overrides(ctx); err != nil {
		return nil, fmt.Errorf("load rule overrides: %w", err)
	}
	a.hooks = alerts.NewWebhooks(a.records, cfg.Alerts.Webhooks, log)
	a.Alerts.SetWebhooks(a.hooks)
	a.Alerts.SetEscalation(cfg.Alerts.EscalateAfter)
	a.Alerts.SetContacts(a.Chart.EscalationContacts)
	if err := a.Alerts.Warm(ctx, a.Store, a.boundPatients()); err != nil {
		return nil, fmt.Errorf("warm alerts: %w", err)
	}
	// Rules first, then live views: an alert is stored before anyone sees
	// the reading that raised it.
	sinks := multiSink{a.Alerts, a.Hub}
	if opts.Sink != nil {
		sinks = append(sinks, opts.Sink)
	}
	// Refusal reports go out through whichever broker connection exists.
	var rejecter ingest.Rejecter
	a.Ingester, err = ingest.New(cfg.Ingest, ingest.Deps{
		Store: a.Store, Resolver: a.Devices, Sink: sinks, Metrics: im, Log: log, Now: opts.Clock,
		Rejecter: rejectFunc(func(device string, payload []byte) {
			if rejecter != nil {
				rejecter.Reject(device, payload)
			}
		}),
	})
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if cfg.Broker.Embedded {
		// In one process the broker hands readings straight to the
		// ingester and acknowledges the device once they are durable. The
		// service account is for monitoring tools; its password is
		// generated per start unless configured.
		svc := cfg.MQTT
		if svc.Username == "" {
			svc.Username = "vitalwire-service"
		}
		if svc.Password == "" {
			svc.Password = auth.NewSecret()
		}
		a.broker, err = broker.New(broker.Config{
			Addr: cfg.Broker.Addr, WebSocketAddr: cfg.Broker.WebSocketAddr, TLS: tlsConf,
			ServiceUser: svc.Username, ServicePassword: svc.Password,
			Handler: embeddedHandler{a.Ingester, a.Devices},
		}, a.Devices, log)
		if err != nil {
			return nil, err
		}
		rejecter = a.broker
	} else {
		if a.consumer, err = ingest.NewConsumer(cfg.MQTT, a.Ingester, a.Devices, log); err != nil {
			return nil, err
		}
		rejecter = a.consumer
	}
	a.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vitalwire_devices_connected", Help: "Devices whose last status said online.",
	}, func() float64 {
		n := 0
		for _, d := range a.Devices.List() {
			if d.Status.Online {
				n++
			}
		}
		return float64(n)
	}))

	if a.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http listen %s: %w", cfg.HTTP.Addr, err)
	}
	if tlsConf != nil {
		a.httpLn = tls.NewListener(a.httpLn, tlsConf)
		a.scheme = "https"
	}
	a.httpSrv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}

	if cfg.Dev {
		tok, _ := a.Signer.Mint("dev-admin", auth.RoleAdmin, cfg.Auth.TokenTTL)
		a.AdminToken = tok
		if err := writePrivate(filepath.Join(cfg.DataDir, "admin.token"), tok+"\n"); err != nil {
			return nil, err
		}
		// The dev clinician cares for the simulated patients (dev-ward).
		ctok, _ := a.Signer.Mint(DevClinician, auth.RoleClinician, cfg.Auth.TokenTTL)
		a.ClinicianToken = ctok
		if err := writePrivate(filepath.Join(cfg.DataDir, "clinician.token"), ctok+"\n"); err != nil {
			return nil, err
		}
		if err := writePrivate(filepath.Join(cfg.DataDir, "server.url"), a.URL()+"\n"); err != nil {
			return nil, err
		}
		a.ClinicianSignIn = a.SignInURL(DevClinician, auth.RoleClinician, 12*time.Hour).URL
		a.AdminSignIn = a.SignInURL("dev-admin", auth.RoleAdmin, 12*time.Hour).URL
	}
	if cfg.Sim.Patients > 0 {
		if a.broker == nil {
			return nil, errors.New("simulate.patients needs the embedded broker")
		}
		now := time.Now().UTC().Truncate(time.Second)
		sc := simulators.DemoScenario(cfg.Sim.Patients, now, uint64(now.UnixNano()))
		sc.UploadEvery = cfg.Sim.Interval
		if err := a.chartSimulated(ctx, sc); err != nil {
			return nil, err
		}
		devs, err := a.provisionSimulated(ctx, sc.DeviceIDs())
		if err != nil {
			return nil, err
		}
		secrets := map[string]string{}
		for _, d := range devs {
			secrets[d.ID] = d.Secret
		}
		brokerURL := "tcp://" + a.broker.Addr()
		var simTLS *tls.Config
		if tlsConf != nil {
			// The simulated devices trust the server's own certificate.
			brokerURL = "ssl://" + a.broker.Addr()
			pool := x509.NewCertPool()
			leaf, err := x509.ParseCertificate(tlsConf.Certificates[0].Certificate[0])
			if err != nil {
				return nil, fmt.Errorf("tls: %w", err)
			}
			pool.AddCert(leaf)
			for _, c := range tlsConf.Certificates[0].Certificate[1:] {
				if ca, err := x509.ParseCertificate(c); err == nil {
					pool.AddCert(ca)
				}
			}
			simTLS = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		}
		a.sim = &simulators.Runner{Broker: brokerURL, TLS: simTLS, QoS: 1, Sim: simulators.NewSimulation(sc, nil),
			Secrets: secrets, Accel: 1, Log: log.With().Str("component", "simulator").Logger()}
	}
	return a, nil
}

// URL is the base URL of the HTTP API.
func (a *App) URL() string { return a.scheme + "://" + a.httpLn.Addr().String() }

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
			if err := a.Sessions.Sweep(ctx); err != nil && ctx.Err() == nil {
				a.log.Error().Err(err).Msg("session sweep failed")
			}
		}
	}
}

// RecordsDB is the records database (chart, audit, alerts, visits), for
// tools and tests that inspect it.
func (a *App) RecordsDB() *sql.DB { return a.records }

// BrokerAddr is the embedded broker's TCP address, or "".
func (a *App) BrokerAddr() string {
	if a.broker == nil {
		return ""
	}
	return a.broker.Addr()
}

// Run serves until ctx ends, then shuts down in reverse order of the data
// flow: simulated devices, HTTP, the subscription (after draining in-flight
// messages so that they are acknowledged), the ingester, the broker, and
// last the stores.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	run := func(name string, f func(context.Context) error, c context.Context) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := f(c); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
		return done
	}
	brokerCtx, stopBroker := context.WithCancel(context.Background())
	ingestCtx, stopIngest := context.WithCancel(context.Background())
	devCtx, stopDevices := context.WithCancel(context.Background())
	defer stopBroker()
	defer stopIngest()
	defer stopDevices()

	var brokerDone <-chan struct{}
	if a.broker != nil {
		brokerDone = run("broker", a.broker.Run, brokerCtx)
	}
	devicesDone := run("devices", func(c context.Context) error { return a.Devices.Run(c, 5*time.Second) }, devCtx)
	alertsDone := run("alerts", func(c context.Context) error { return a.Alerts.Run(c, 5*time.Second) }, devCtx)
	hooksDone := run("webhooks", a.hooks.Run, devCtx)
	sweepDone := run("sessions", a.sweepSessions, devCtx)
	ingestDone := run("ingest", a.Ingester.Run, ingestCtx)
	var subscription func(context.Context) error
	if a.consumer != nil {
		subscription = a.consumer.Run
	} else {
		// Embedded broker: nothing to subscribe to; on shutdown, drain.
		subscription = func(c context.Context) error {
			<-c.Done()
			dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return a.Ingester.Drain(dctx)
		}
	}
	consumerDone := run("ingest drain", subscription, ctx)
	httpDone := run("http", func(context.Context) error {
		if err := a.httpSrv.Serve(a.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}, ctx)
	var fleetDone <-chan struct{}
	if a.sim != nil {
		fleetDone = run("simulator", func(c context.Context) error { _, err := a.sim.Run(c); return err }, ctx)
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
	<-consumerDone // drained and disconnected
	stopIngest()
	<-ingestDone
	stopBroker()
	if brokerDone != nil {
		<-brokerDone
	}
	stopDevices()
	<-devicesDone
	<-alertsDone
	<-hooksDone
	<-sweepDone
	a.close()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *App) close() {
	if a.httpLn != nil {
		a.httpLn.Close()
	}
	if a.turn != nil {
		a.turn.Close()
	}
	if a.Store != nil {
		a.Store.Close()
	}
	if a.records != nil {
		a.records.Close()
	}
}

// provisionSimulated registers the simulated patients' devices once and
// keeps their secrets in the data folder (mode 0600): a secret is shown
// only at creation, and the simulator needs it at every start.
func (a *App) provisionSimulated(ctx context.Context, wanted []simulators.Device) ([]simulators.Device, error) {
	path := filepath.Join(a.cfg.DataDir, "simulated-devices.json")
	known := map[string]simulators.Device{}
	if b, err := os.ReadFile(path); err == nil {
		var list []simulators.Device
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		for _, d := range list {
			known[d.ID] = d
		}
	}
	var out []simulators.Device
	for _, want := range wanted {
		id, kind, patient := want.ID, want.Kind, want.Patient
		d, saved := known[id]
		_, err := a.Devices.Get(id)
		registered := err == nil
		switch {
		case registered && saved && a.Devices.Authenticate(id, d.Secret):
			// Reuse the device from an earlier start.
		case registered:
			// Its secret is lost (or it was revoked): ids are never
			// reused, so this simulated device sits out.
			continue
		default:
			secret, err := a.Devices.Add(ctx, id, kind)
			if err != nil {
				return nil, fmt.Errorf("provision %s: %w", id, err)
			}
			// Bound from a little in the past so that a reading
			// stamped just before this instant is still attributed.
			if err := a.Devices.Bind(ctx, id, patient, time.Now().Add(-time.Minute)); err != nil {
				return nil, fmt.Errorf("provision %s: %w", id, err)
			}
			d = simulators.Device{ID: id, Secret: secret, Kind: kind, Patient: patient}
		}
		out = append(out, d)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := writePrivate(path, string(b)); err != nil {
		return nil, err
	}
	return out, nil
}

// DevClinician and DevWard are the clinician and care team of the
// simulated patients.
const (
	DevClinician = "dev-clinician"
	DevWard      = "dev-ward"
)

// chartSimulated gives the simulated patients chart records (made-up
// names) in the dev-ward care team of the dev clinician.
func (a *App) chartSimulated(ctx context.Context, sc *simulators.Scenario) error {
	if err := a.Chart.AddTeam(ctx, DevWard, "Simulated ward"); err != nil && !errors.Is(err, chart.ErrExists) {
		return err
	}
	if err := a.Chart.AddMember(ctx, DevWard, "clinician", DevClinician); err != nil {
		return err
	}
	for i, p := range sc.Patients {
		scale := 1
		if p.Profile.Scale2() {
			scale = 2
		}
		_, err := a.Chart.AddPatient(ctx, chart.Patient{ID: p.ID, MRN: fmt.Sprintf("SIM%06d", i+1), Name: fmt.Sprintf("Simulated Patient %d", i+1),
			BirthDate: fmt.Sprintf("19%02d-0%d-1%d", 40+(i*7)%50, 1+i%9, i%10), SpO2Scale: scale, OnOxygen: p.Profile.OnOxygen(),
			Notes: "simulated: " + string(p.Profile)})
		if err != nil && !errors.Is(err, chart.ErrExists) {
			return err
		}
		if err := a.Chart.AddMember(ctx, DevWard, "patient", p.ID); err != nil {
			return err
		}
	}
	return nil
}

func writePrivate(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

type multiSink []ingest.Sink

func (m multiSink) Readings(b []vitals.Reading) {
	for _, s := range m {
		s.Readings(b)
	}
}

// ReloadRules reads the rules file again (or the default set) and swaps it
// in. A bad file is refused whole and the rules in force stay.
func (a *App) ReloadRules() (int, error) {
	rules := alerts.DefaultRules()
	if a.cfg.Alerts.RulesFile != "" {
		var err error
		if rules, err = alerts.LoadRules(a.cfg.Alerts.RulesFile); err != nil {
			a.log.Error().Err(err).Msg("rules reload refused; the rules in force stay")
			return 0, err
		}
	}
	a.engine.SetRules(rules)
	a.log.Info().Int("rules", len(rules.Rules)).Msg("rules reloaded")
	return len(rules.Rules), nil
}

// boundPatients lists the patients some device measures now.
func (a *App) boundPatients() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range a.Devices.List() {
		if p, ok := d.Patient(time.Now()); ok && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// hubNotifier sends alert changes to the live subscribers of the patient.
type hubNotifier struct{ hub *live.Hub }

func (h hubNotifier) AlertChanged(al alerts.Alert) {
	h.hub.Publish(live.Event{Patient: al.Patient, Kind: "alert", Data: al})
}

// Escalated pages the contacts on the live view: every subscriber of the
// patient gets the escalation with its contacts; a contact's page says so.
func (h hubNotifier) Escalated(al alerts.Alert, contacts []string) {
	if contacts == nil {
		contacts = []string{}
	}
	h.hub.Publish(live.Event{Patient: al.Patient, Kind: "escalation", Data: map[string]any{"alert": al, "contacts": contacts}})
}

// ScoreChanged sends a patient's new NEWS2 to their live subscribers.
func (h hubNotifier) ScoreChanged(patient string, s news2.Score) {
	h.hub.Publish(live.Event{Patient: patient, Kind: "news2", Data: scoreJSON(s)})
}

// embeddedHandler connects the embedded broker to the ingester.
type embeddedHandler struct {
	in  *ingest.Ingester
	reg *devices.Registry
}

func (h embeddedHandler) Readings(device string, payload []byte) error {
	return h.in.SubmitWait(context.Background(), device, payload)
}

func (h embeddedHandler) Status(device string, payload []byte) {
	ingest.ApplyStatus(h.reg, device, payload)
}

type rejectFunc func(device string, payload []byte)

func (f rejectFunc) Reject(device string, payload []byte) { f(device, payload) }

// pahoLogger routes paho's package-level loggers into zerolog.
type pahoLogger struct {
	ev func() *zerolog.Event
}

func (p pahoLogger) Println(v ...any)               { p.ev().Msg(fmt.Sprint(v...)) }
func (p pahoLogger) Printf(format string, v ...any) { p.ev().Msgf(format, v...) }

func routePahoLogs(log zerolog.Logger) {
	l := log.With().Str("component", "paho").Logger()
	pahomqtt.ERROR = pahoLogger{func() *zerolog.Event { return l.Error() }}
	pahomqtt.CRITICAL = pahoLogger{func() *zerolog.Event { return l.Error() }}
	// paho warns of routine events (an ack for a message its store has
	// already dropped); keep them at debug.
	pahomqtt.WARN = pahoLogger{func() *zerolog.Event { return l.Debug() }}
}
