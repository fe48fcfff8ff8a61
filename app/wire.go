package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/netlimit"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
	"github.com/vitalwire/vitalwire/vitals/news2"
	"github.com/vitalwire/vitalwire/vitals/sqlitestore"
)

// The steps of New, in order. Each builds one component from its section
// of the configuration and registers what must be closed.

func (a *App) initMetrics(context.Context) error {
	a.connRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwire_connections_refused_total",
		Help: "Connections closed at accept by a connection limit, by listener (http, mqtt-tcp, mqtt-ws) and limit."},
		[]string{"listener", "limit"})
	a.metrics.MustRegister(a.connRefused)
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics.MustRegister(buildInfoMetric())
	routePahoLogs(a.log)
	return nil
}

func (a *App) openRecords(ctx context.Context) error {
	if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	a.privateDataDir()
	src, err := a.cfg.Records.Source()
	if err != nil {
		return err
	}
	db, err := src.Open(ctx)
	if err != nil {
		return err
	}
	a.records = db
	a.onClose(func() { db.Close() })
	return nil
}

// privateDataDir closes a data folder that group or others may enter
// (made by hand, or by a package, before the first start): it holds the
// records, the readings, the signing key and the spool. When the service
// cannot (it does not own the folder) it warns and goes on: the files in
// it are private on their own.
func (a *App) privateDataDir() {
	fi, err := os.Stat(a.cfg.DataDir)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	was := fi.Mode().Perm()
	if err := os.Chmod(a.cfg.DataDir, 0o700); err != nil {
		a.log.Warn().Err(err).Str("data_dir", a.cfg.DataDir).Str("mode", was.String()).
			Msg("the data folder may be entered by group or others and could not be closed: chmod 700 it")
		return
	}
	a.log.Info().Str("data_dir", a.cfg.DataDir).Str("was", was.String()).Msg("the data folder was open to group or others; now 0700")
}

func (a *App) initAuth(ctx context.Context) error {
	key, err := auth.LoadOrCreateKey(a.cfg.Auth.SigningKeyFile)
	if err != nil {
		return err
	}
	if a.signer, err = auth.NewSigner(key); err != nil {
		return err
	}
	if err := a.openAudit(ctx); err != nil {
		return err
	}
	if a.revoked, err = auth.OpenRevocations(ctx, a.records); err != nil {
		return err
	}
	a.signer.CheckRevocations(a.revoked)
	if a.glass, err = auth.OpenBreakGlass(ctx, a.records, a.cfg.Auth.BreakGlassTTL); err != nil {
		return err
	}
	a.sessions = auth.NewSessions(a.records, a.cfg.Auth.SessionIdle, a.cfg.Auth.SessionMaxAge)
	a.watcher = auth.NewWatcher(a.sessions, a.revoked)
	return a.initFrontDoor()
}

// openAudit opens the audit log with its chain key and the checkpointer
// that signs its head outside the records database.
func (a *App) openAudit(ctx context.Context) error {
	cfg := a.cfg.Auth.Audit
	_, statErr := os.Stat(cfg.ChainKeyFile)
	keyExisted := statErr == nil
	key, err := auth.LoadOrCreateKey(cfg.ChainKeyFile)
	if err != nil {
		return fmt.Errorf("audit chain key: %w", err)
	}
	log := a.log.With().Str("component", "audit").Logger()
	failures := prometheus.NewCounter(prometheus.CounterOpts{Name: "vitalwire_audit_checkpoint_failures_total",
		Help: "Audit checkpoint problems, each also logged: a checkpoint not written or not shipped to a sink, or a trail that does not match the newest checkpoint at start."})
	a.metrics.MustRegister(failures)
	warn := func(err error) {
		failures.Inc()
		log.Error().Err(err).Msg("audit checkpoints")
	}
	if a.checkpoints, err = auth.NewCheckpointer(cfg, warn); err != nil {
		return err
	}
	a.onClose(func() { a.checkpoints.Close() })
	if !a.cfg.Dev {
		if filepath.Dir(cfg.CheckpointFile) == filepath.Dir(a.cfg.Records.Path) {
			log.Warn().Str("checkpoint_file", cfg.CheckpointFile).
				Msg("audit checkpoints are beside the records database: put auth.audit.checkpoint_file and the audit keys on another volume")
		}
		if cfg.CheckpointSyslog == "" && cfg.CheckpointURL == "" && !appendOnly(cfg.CheckpointFile) {
			log.Warn().Str("checkpoint_file", cfg.CheckpointFile).
				Msg("audit checkpoints have no copy off this machine and their file is not append-only (chattr +a): whoever can write it can roll the trail back unnoticed; set auth.audit.checkpoint_syslog or checkpoint_url")
		}
	}
	if a.audit, err = auth.OpenAuditLog(ctx, a.records, auth.WithChainKey(key), auth.WithCheckpoints(a.checkpoints)); err != nil {
		return err
	}
	if over, anchored := a.audit.AnchoredOver(); anchored && over > 0 && keyExisted {
		// The first start after an upgrade anchors over the old events with
		// a key it has just made; a key that was there already means the
		// anchor was removed (or the key was provisioned before the
		// upgrade: then this is said once and is harmless).
		warn(fmt.Errorf("audit chain anchored over %d events with a chain key that existed before this start: unless this is the first start after an upgrade, the anchor was removed; run vitalwire audit verify and compare with the checkpoint copies", over))
	}
	return nil
}

func (a *App) initChart(ctx context.Context) error {
	var err error
	if a.devices, err = devices.Open(ctx, a.records); err != nil {
		return err
	}
	a.devices.SetHasher(a.deviceHasher)
	if a.chart, err = chart.Open(ctx, a.records); err != nil {
		return err
	}
	a.encounters = chart.NewEncounters(a.records)
	a.gate = &auth.Gate{Policy: &auth.Policy{Teams: a.chart, BreakGlass: a.glass}, Audit: a.audit}
	// Open sockets are decided again when care teams or grants change.
	a.watcher.RecheckEvery = a.cfg.Auth.AccessRecheck
	a.watcher.Decide(a.gate)
	a.chart.OnMembershipChange(a.watcher.Changed)
	a.hub = live.NewHub()
	a.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vitalwire_devices_connected", Help: "Devices whose last status said online.",
	}, func() float64 {
		n := 0
		for _, d := range a.devices.List() {
			if d.Status.Online {
				n++
			}
		}
		return float64(n)
	}))
	return nil
}

func (a *App) openStore(ctx context.Context) error {
	var err error
	switch a.cfg.Store.Kind {
	case "influx":
		a.store, err = influxstore.New(a.cfg.Store.Influx)
	default:
		var st *sqlitestore.Store
		st, err = sqlitestore.Open(ctx, a.cfg.Store.SQLitePath)
		if err == nil {
			a.store, a.retention = st, newRetention(a, st)
		}
	}
	if err != nil {
		return err
	}
	a.onClose(func() { a.store.Close() })
	return nil
}

func (a *App) initTelehealth(context.Context) error {
	th := a.cfg.Telehealth
	// One secret serves the embedded TURN server and any external one.
	turnCreds := th.TURN(th.EmbeddedTURNAddr)
	sfu, err := telehealth.NewSFU(th.Media(turnCreds), a.log)
	if err != nil {
		return err
	}
	a.sfu = sfu
	if th.EmbeddedTURNAddr != "" {
		// It relays for participants while they are in their visit, to
		// the server's own addresses.
		opts := telehealth.TURNOptions{InVisit: sfu.InVisit}
		if ip := net.ParseIP(th.PublicIP); ip != nil {
			opts.Peers = append(opts.Peers, ip)
		}
		turn, err := telehealth.StartTURN(th.EmbeddedTURNAddr, turnCreds, opts)
		if err != nil {
			return err
		}
		a.turn = turn
		a.onClose(func() { turn.Close() })
	}
	a.visits = telehealth.NewVisits(a.records)
	return nil
}

func (a *App) initAlerts(ctx context.Context) error {
	rules, err := a.loadRules()
	if err != nil {
		return err
	}
	// The engine reads each patient's NEWS2 set-up from the chart and
	// their own rule levels from the service, on the hot path, in memory.
	a.engine = alerts.NewEngine(rules, func(patient string) alerts.PatientInfo {
		sc := a.chart.ScoringOf(patient)
		return alerts.PatientInfo{Scale: sc.SpO2Scale, OnOxygen: sc.OnOxygen, Consciousness: news2.Consciousness(sc.Consciousness),
			Overrides: a.alerts.Overrides(patient)}
	})
	a.alerts = alerts.NewService(a.engine, alerts.NewStore(a.records), hubNotifier{a.hub, &a.alerts}, a.log, a.metrics)
	if a.opts.Clock != nil {
		a.alerts.SetClock(a.opts.Clock)
	}
	if err := a.alerts.SetPendingFile(filepath.Join(a.cfg.DataDir, "alert-transitions.json")); err != nil {
		return err
	}
	if err := a.alerts.LoadOverrides(ctx); err != nil {
		return err
	}
	a.hooks = alerts.NewWebhooks(a.records, a.cfg.Alerts.Webhooks, a.log)
	a.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vitalwire_webhook_outbox_pending",
		Help: "Alert webhook deliveries not yet made (a receiver that stays down grows it)."}, func() float64 {
		n, err := a.hooks.Pending(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	}))
	a.hooks.SetClaim(a.cfg.Alerts.WebhookClaim)
	a.hooks.SetBaseURL(a.externalURL)
	a.alerts.SetWebhooks(a.hooks)
	a.alerts.SetEscalation(a.cfg.Alerts.EscalateAfter)
	a.alerts.SetSnoozeLimits(a.cfg.Alerts.Snooze)
	a.alerts.SetContacts(a.chart.EscalationContacts)
	a.recorder = &telehealth.Recorder{Visits: a.visits, Encounters: a.encounters, Readings: a.store, Alerts: alertSource{a.alerts},
		SFU: a.sfu, Lookback: a.cfg.Telehealth.AttachLookback}
	if err := a.alerts.Warm(ctx, a.store, a.boundPatients()); err != nil {
		return fmt.Errorf("warm alerts: %w", err)
	}
	return nil
}

func (a *App) initIngest(context.Context) error {
	// Rules first, then live views: an alert is stored before anyone sees
	// the reading that raised it.
	sinks := multiSink{a.alerts, a.hub}
	if a.opts.Sink != nil {
		sinks = append(sinks, a.opts.Sink)
	}
	in, err := ingest.New(a.cfg.Ingest, ingest.Deps{
		Store: a.store, Resolver: a.devices, Sink: sinks, Metrics: ingest.NewMetrics(a.metrics), Log: a.log, Now: a.opts.Clock,
		// Refusal reports go out through whichever broker connection exists.
		Rejecter: rejectFunc(func(device string, payload []byte) {
			if a.rejecter != nil {
				a.rejecter.Reject(device, payload)
			}
		}),
	})
	if err != nil {
		return err
	}
	a.ingester = in
	return nil
}

func (a *App) tlsConfig() (*tls.Config, error) {
	if !a.cfg.TLS.Enabled() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(a.cfg.TLS.CertFile, a.cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, CipherSuites: tls12Suites}, nil
}

// tls12Suites are the TLS 1.2 suites offered: forward secret (ECDHE) and
// authenticated encryption only, no CBC or SHA-1 (TLS 1.3's are all
// such and not configurable).
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func (a *App) initBroker(context.Context) error {
	if !a.cfg.Broker.Embedded {
		c, err := ingest.NewConsumer(a.cfg.MQTT, a.ingester, a.devices, a.log)
		if err != nil {
			return err
		}
		a.consumer, a.rejecter = c, c
		return nil
	}
	tlsConf, err := a.tlsConfig()
	if err != nil {
		return err
	}
	// In one process the broker hands readings straight to the ingester
	// and acknowledges the device once they are durable. The service
	// account is for monitoring tools; its password is generated per start
	// unless configured.
	svc := a.cfg.MQTT
	if svc.Username == "" {
		svc.Username = "vitalwire-service"
	}
	if svc.Password == "" {
		svc.Password = auth.NewSecret()
	}
	clientCAs, err := a.clientCAs()
	if err != nil {
		return err
	}
	b, err := broker.New(broker.Config{
		Addr: a.cfg.Broker.Addr, WebSocketAddr: a.cfg.Broker.WebSocketAddr, TLS: tlsConf, ClientCAs: clientCAs,
		ServiceUser: svc.Username, ServicePassword: svc.Password,
		Handler: embeddedHandler{a.ingester, a.devices}, Limits: a.brokerLimits(),
		OnRefuse: func(listener, limit string) { a.connRefused.WithLabelValues("mqtt-"+listener, limit).Inc() },
	}, a.devices, a.log)
	if err != nil {
		return err
	}
	a.broker, a.rejecter = b, b
	return nil
}

// brokerAuth is the policy an external broker's dynamic auth answers by
// (the registry's devices and the service account of mqtt.username), and
// the shared secret it must send; nil without broker_auth.secret_file.
func (a *App) brokerAuth() (httpapi.BrokerPolicy, string, error) {
	c := a.cfg.BrokerAuth
	if c.SecretFile == "" {
		return nil, "", nil
	}
	fi, err := os.Stat(c.SecretFile)
	if err != nil {
		return nil, "", fmt.Errorf("broker_auth.secret_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("broker_auth.secret_file: %s is readable by others (mode %v): make it 0600", c.SecretFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(c.SecretFile)
	if err != nil {
		return nil, "", fmt.Errorf("broker_auth.secret_file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 32 {
		return nil, "", fmt.Errorf("broker_auth.secret_file: the secret must be 32 characters or more")
	}
	a.brokerAuthLimit = auth.NewLimiter(c.PerSecond*60, c.Burst, 0)
	a.metrics.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "vitalwire_rate_limited_total",
		Help: "Requests answered 429 by a per-source limit.", ConstLabels: prometheus.Labels{"limit": "broker_auth"}},
		func() float64 { return float64(a.brokerAuthLimit.Denied()) }))
	return broker.NewPolicy(a.devices, a.cfg.MQTT.Username, a.cfg.MQTT.Password), secret, nil
}

// clientCAs reads broker.client_ca_file (nil when unset).
func (a *App) clientCAs() (*x509.CertPool, error) {
	f := a.cfg.Broker.ClientCAFile
	if f == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("broker.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("broker.client_ca_file: %s holds no PEM certificate", f)
	}
	return pool, nil
}

// brokerLimits are the configured ones, except that simulated patients'
// devices all connect from this machine's one address: with a simulation
// the per-source limits are off.
func (a *App) brokerLimits() broker.Limits {
	l := a.cfg.Broker.Limits
	if a.cfg.Sim.Patients > 0 {
		l.MaxConnectionsPerSource, l.ConnectRatePerSource = 0, 0
	}
	return l
}

func (a *App) initHTTP(context.Context) error {
	tlsConf, err := a.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", a.cfg.HTTP.Addr, err)
	}
	a.onClose(func() { ln.Close() })
	// Counted under TLS, so a refused connection costs no handshake.
	ln = netlimit.Wrap(ln, a.cfg.HTTP.conns(), netlimit.OnRefuse(func(_ netip.Addr, why netlimit.Reason) {
		a.connRefused.WithLabelValues("http", string(why)).Inc()
	}))
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		a.scheme = "https"
	}
	a.httpLn = ln
	var disconnect func(string)
	if a.broker != nil {
		disconnect = a.broker.DisconnectDevice
	}
	vendorKeys, err := a.cfg.HTTPIngest.LoadKeys()
	if err != nil {
		return err
	}
	proxies, err := a.cfg.HTTP.trustedProxies()
	if err != nil {
		return err
	}
	bp, secret, err := a.brokerAuth()
	if err != nil {
		return err
	}
	h, err := httpapi.New(httpapi.Deps{
		Log: a.log, Metrics: a.metrics, BaseURL: a.URL, Secure: a.scheme == "https", RequestMetrics: httpapi.NewRequestMetrics(a.metrics),
		Signer: a.signer, Sessions: a.sessions, Revoked: a.revoked, Glass: a.glass, Audit: a.audit, Gate: a.gate, Watcher: a.watcher,
		Devices: a.devices, DeviceLimits: a.cfg.Devices, Disconnect: disconnect, Chart: a.chart, Encounters: a.encounters, Store: a.store,
		Alerts: a.alerts, ReloadRules: a.ReloadRules, Hub: a.hub,
		Visits: a.visits, SFU: a.sfu, Recorder: a.recorder, JoinLinkTTL: a.cfg.Telehealth.JoinLinkTTL,
		JoinLinkMaxAge: a.cfg.Telehealth.JoinLinkMaxAge,
		SessionMaxAge:  a.cfg.Auth.SessionMaxAge, Ready: a.ready, Pages: a.cfg.API, Clinic: a.cfg.Clinic,
		Refusals: a.refusals, AnonymousLimit: a.anonLimit, SignInLimit: a.signIn,
		Ingest: httpIngester{a.ingester}, HTTPIngest: a.cfg.HTTPIngest, VendorKeys: vendorKeys,
		BrokerPolicy: bp, BrokerSecret: secret, BrokerAuthLimit: a.brokerAuthLimit, TrustedProxies: proxies,
		Program:        rpm.New(a.records, a.cfg.RPM),
		ProgramSources: rpm.Sources{Days: a.store, Visits: a.visits, Roster: a.chart},
		SSO:            a.sso, SMART: a.smart,
	})
	if err != nil {
		return err
	}
	hc := a.cfg.HTTP
	a.httpSrv = &http.Server{
		// A deadline for each write, not for the whole response: a client
		// that stops reading is cut off, a long export is not.
		Handler:           netlimit.WriteProgress(h, hc.WriteTimeout),
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		ReadTimeout:       hc.ReadTimeout,
		IdleTimeout:       hc.IdleTimeout,
		MaxHeaderBytes:    hc.MaxHeaderBytes,
		// A WebSocket keeps its own deadlines (ping/pong) once upgraded,
		// not the HTTP exchange's.
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateHijacked {
				_ = c.SetDeadline(time.Time{})
			}
		},
	}
	return nil
}

// ready is ready when the store answers or the spool is taking writes,
// and, with an external broker, once the device subscription is in place.
func (a *App) ready(ctx context.Context) (map[string]any, bool) {
	status := map[string]any{"status": "ready"}
	ok := true
	if p, can := a.store.(interface{ Ping(context.Context) error }); can {
		if err := p.Ping(ctx); err != nil {
			status["store"] = "unreachable (readings are spooled)"
		}
	}
	if a.consumer != nil && !a.consumer.Subscribed() {
		// Devices' messages published now would reach no subscriber.
		status["status"], status["broker"] = "starting", "not yet subscribed to the device topics"
		ok = false
	}
	bytes, batches := a.ingester.Spool().Stats()
	status["spool_bytes"], status["spool_batches"] = bytes, batches
	if a.disk.IsLow() {
		// Still ready: the alarm is for before the disk is full.
		status["disk"] = fmt.Sprintf("low: %d bytes free, below disk.warn_free_bytes", a.disk.Free())
	}
	return status, ok
}

// boundPatients lists the patients some device measures now.
func (a *App) boundPatients() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range a.devices.List() {
		if p, ok := d.Patient(time.Now()); ok && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// externalURL is where people reach the server: http.external_url, or
// the listener's own address.
func (a *App) externalURL() string {
	if u := a.cfg.HTTP.ExternalURL; u != "" {
		return u
	}
	return a.URL()
}
