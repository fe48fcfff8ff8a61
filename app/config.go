package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/netlimit"
	"github.com/vitalwire/vitalwire/internal/sqldb"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals/influxstore"
)

// Config is the whole service configuration. It is read from a YAML file
// (unknown fields are errors), then environment variables override it
// (VITALWIRE_ plus the upper-cased YAML path joined by "_", e.g.
// VITALWIRE_STORE_INFLUX_TOKEN), then command-line flags.
type Config struct {
	// Dev runs everything on one machine for trying Vitalwire: embedded
	// broker, SQLite stores, simulated patients, loopback only.
	Dev     bool          `yaml:"dev"`
	DataDir string        `yaml:"data_dir"`
	HTTP    HTTPConfig    `yaml:"http"`
	Auth    AuthConfig    `yaml:"auth"`
	Store   StoreConfig   `yaml:"store"`
	Records RecordsConfig `yaml:"records"`
	Broker  BrokerConfig  `yaml:"broker"`
	// Devices bounds bulk enrolments and the device list's pages.
	Devices devices.Config `yaml:"devices"`
	// BrokerAuth is the endpoint an external broker asks who may connect
	// and publish (off without a secret file).
	BrokerAuth httpapi.BrokerAuthConfig `yaml:"broker_auth"`
	MQTT       MQTTConfig               `yaml:"mqtt"`
	Ingest     ingest.Config            `yaml:"ingest"`
	Log        LogConfig                `yaml:"log"`
	Sim        SimConfig                `yaml:"simulate"`
	Alerts     AlertsConfig             `yaml:"alerts"`
	// Telehealth configures video visits.
	Telehealth TelehealthConfig `yaml:"telehealth"`
	// API bounds the pages of history reads (readings, FHIR searches).
	API httpapi.PageConfig `yaml:"api"`
	// Clinic is the clinic's time zone (charts, the program's measures).
	Clinic httpapi.ClinicConfig `yaml:"clinic"`
	// TLS, when a certificate and key are set, serves HTTPS and MQTT over
	// TLS (the embedded broker's listeners).
	TLS TLSConfig `yaml:"tls"`
	// Disk is the free-space alarm of the data folders.
	Disk sqldb.DiskConfig `yaml:"disk"`
	// HTTPIngest sets the readings devices and vendor clouds post over
	// HTTP (per-device limits, the vendors' signed webhooks).
	HTTPIngest httpapi.IngestConfig `yaml:"http_ingest"`
	// RPM is the remote monitoring program (the clinic's time zone).
	RPM rpm.Config `yaml:"rpm"`
}

// AlertsConfig sets the rules engine.
type AlertsConfig struct {
	// RulesFile is a YAML rule set; empty: the default set shipped in
	// alerts/default_rules.yaml.
	RulesFile string `yaml:"rules_file"`
	// Webhooks receive every alert change, signed with HMAC-SHA256.
	Webhooks []alerts.Webhook `yaml:"webhooks"`
	// EscalateAfter raises an alert not acknowledged in this time one
	// severity step and tells the webhooks (alert.escalated); 0: never.
	EscalateAfter time.Duration `yaml:"escalate_after"`
	// WebhookClaim is how long a node's claim on a webhook delivery
	// lasts before another node sharing the records database may take
	// it over (0: 2 minutes).
	WebhookClaim time.Duration `yaml:"webhook_claim"`
	// Snooze bounds how long a snooze may silence a rule (15 min-4 h).
	Snooze alerts.SnoozeLimits `yaml:"snooze"`
}

// TLSConfig locates the server certificate (PEM).
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" }

// HTTPConfig is the API and UI listener.
type HTTPConfig struct {
	Addr string `yaml:"addr"`
	// AllowPlaintext permits HTTP without TLS on a non-loopback address
	// (behind a TLS-terminating proxy). Off by default: health data does
	// not cross a network in the clear unless someone says so.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// ReadHeaderTimeout and ReadTimeout are how long a client has to send
	// a request's headers, and the whole request with its body.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	// WriteTimeout is how long each write of a response may wait for the
	// client to read it (a long export lives while it keeps moving).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout    time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"`
	// MaxConnections and MaxConnectionsPerSource cap the connections open
	// at once, in all and from one IP address (IPv6: one /64), WebSockets
	// included (0: no cap). Behind a proxy every connection is the
	// proxy's: raise the per-source cap there.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// TrustedProxies are the addresses or CIDR blocks of the reverse
	// proxies in front: from them, X-Forwarded-For names the client for
	// the per-request limits, the audit log and the logs (none: the peer
	// is the client, and the header is ignored).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ExternalURL is the address people reach Vitalwire at
	// (https://vitalwire.example.org, behind a proxy or not): links the
	// server hands out of band, in webhook deliveries, start with it.
	// Empty: the listener's own address.
	ExternalURL string `yaml:"external_url"`
}

// trustedProxies parses TrustedProxies (an address is a block of one).
func (h HTTPConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted_proxies: %q is not an address or CIDR block", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (h HTTPConfig) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read_header_timeout", h.ReadHeaderTimeout}, {"read_timeout", h.ReadTimeout}, {"write_timeout", h.WriteTimeout}, {"idle_timeout", h.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", d.name))
		}
	}
	if h.ReadTimeout > 0 && h.ReadHeaderTimeout > h.ReadTimeout {
		errs = append(errs, errors.New("read_header_timeout: cannot exceed read_timeout"))
	}
	if h.MaxHeaderBytes < 4<<10 || h.MaxHeaderBytes > 1<<20 {
		errs = append(errs, errors.New("max_header_bytes: must be 4096-1048576"))
	}
	errs = append(errs, h.conns().Validate())
	if _, err := h.trustedProxies(); err != nil {
		errs = append(errs, err)
	}
	if h.ExternalURL != "" {
		if u, err := url.Parse(h.ExternalURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, errors.New("external_url: an http:// or https:// URL with a host, no credentials, query or fragment"))
		}
	}
	return errors.Join(errs...)
}

func (h HTTPConfig) conns() netlimit.Config {
	return netlimit.Config{MaxConns: h.MaxConnections, MaxConnsPerSource: h.MaxConnectionsPerSource}
}

// AuthConfig is auth's section (auth.Config).
type AuthConfig = auth.Config

// StoreConfig chooses the time-series store.
type StoreConfig struct {
	// Kind is "sqlite" (embedded, the default) or "influx".
	Kind       string             `yaml:"kind"`
	SQLitePath string             `yaml:"sqlite_path"`
	Influx     influxstore.Config `yaml:"influx"`
	// Retention deletes SQLite readings older than this (by event time),
	// at start and hourly; 0 (the default) keeps them all. At least 720h
	// (30 days), so that a slip of the unit cannot wipe the store. With
	// InfluxDB, set its bucket's retention instead.
	Retention time.Duration `yaml:"retention"`
	// RetentionBatch is how many readings one delete transaction removes
	// (100-100000; default 5000): the devices' writes wait for one batch.
	RetentionBatch int `yaml:"retention_batch"`
}

func (s StoreConfig) validateRetention() error {
	var errs []error
	switch {
	case s.Retention < 0 || (s.Retention > 0 && s.Retention < 720*time.Hour):
		errs = append(errs, errors.New("retention: 0 (keep everything) or at least 720h (30 days)"))
	case s.Retention > 0 && s.Kind == "influx":
		errs = append(errs, errors.New("retention: applies to the SQLite store; set the InfluxDB bucket's retention instead"))
	}
	if s.RetentionBatch < 100 || s.RetentionBatch > 100_000 {
		errs = append(errs, errors.New("retention_batch: must be 100-100000"))
	}
	return errors.Join(errs...)
}

// RecordsConfig locates the records database (devices, chart, care teams,
// sessions, alerts, visits, encounters, audit).
type RecordsConfig struct {
	// Kind is sqlite (the default: the file at Path) or postgres (the
	// server DSN names, shared by every node).
	Kind string `yaml:"kind"`
	Path string `yaml:"path"`
	// DSN locates the PostgreSQL database without its password
	// (postgres://user@host:5432/db?sslmode=verify-full, or key=value).
	DSN string `yaml:"dsn"`
	// PasswordFile holds the PostgreSQL password (one line). Else the
	// password is $VITALWIRE_RECORDS_PASSWORD, or none (a client
	// certificate, or a local trust rule).
	PasswordFile string `yaml:"password_file"`
	// password is $VITALWIRE_RECORDS_PASSWORD; never read from a file
	// of settings, never printed.
	password string
}

// RecordsPasswordEnv is the environment variable the PostgreSQL records
// password may come from.
const RecordsPasswordEnv = "VITALWIRE_RECORDS_PASSWORD"

func (r RecordsConfig) validate() error {
	switch r.Kind {
	case "sqlite":
		if r.DSN != "" {
			return &FieldError{"records.dsn", "is for kind postgres; records.kind is sqlite"}
		}
	case "postgres":
		if r.DSN == "" {
			return &FieldError{"records.dsn", "is required with kind postgres"}
		}
		if _, err := sqldb.ParsePostgres(sqldb.Postgres{DSN: r.DSN}); err != nil {
			return &FieldError{"records.dsn", err.Error()}
		}
		if r.PasswordFile != "" && r.password != "" {
			return &FieldError{"records.password_file", "and $" + RecordsPasswordEnv + " are both set: use one"}
		}
	default:
		return &FieldError{"records.kind", fmt.Sprintf("must be sqlite or postgres, not %q", r.Kind)}
	}
	return nil
}

// Source says where the records are, with the PostgreSQL password read
// from its file or the environment.
func (r RecordsConfig) Source() (sqldb.Records, error) {
	if r.Kind != "postgres" {
		return sqldb.Records{Path: r.Path}, nil
	}
	pw := r.password
	if r.PasswordFile != "" {
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return sqldb.Records{}, fmt.Errorf("records.password_file: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	return sqldb.Records{Kind: "postgres", Postgres: sqldb.Postgres{DSN: r.DSN, Password: pw}}, nil
}

// BrokerConfig is the embedded MQTT broker.
type BrokerConfig struct {
	// Embedded starts mochi-mqtt in the process; the ingester connects to it
	// over loopback with a service credential generated at start.
	Embedded      bool   `yaml:"embedded"`
	Addr          string `yaml:"addr"`
	WebSocketAddr string `yaml:"websocket_addr"`
	// AllowPlaintext permits MQTT without TLS on a non-loopback address.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// ClientCAFile, when set, is the CA certificates (PEM) whose client
	// certificates devices may authenticate with instead of a secret
	// (mutual TLS; the certificate's common name is the device id). It
	// needs tls.cert_file.
	ClientCAFile string `yaml:"client_ca_file"`
	// Limits bound connections and packets (broker.Limits).
	Limits broker.Limits `yaml:"limits"`
}

// MQTTConfig is the ingester's connection to an external broker (ignored
// with the embedded one).
type MQTTConfig = ingest.MQTTConfig

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or console
}

// SimConfig runs simulated patients inside the server (dev mode): the demo
// scenario of the simulators package, in real time.
type SimConfig struct {
	// Patients is how many; negative: the default, 5 with --dev and none
	// otherwise. 0 runs none, also with --dev.
	Patients int `yaml:"patients"`
	// Interval is how often the simulated watches, rings and patches upload
	// what they measured (real ones batch for a minute or more).
	Interval time.Duration `yaml:"interval"`
}

// TelehealthConfig is telehealth's section (telehealth.Settings).
type TelehealthConfig = telehealth.Settings

// DefaultConfig is the configuration of a production server with the
// embedded stores; Dev fills in the rest for --dev.
func DefaultConfig() Config {
	return Config{
		DataDir: "data",
		HTTP: HTTPConfig{Addr: "127.0.0.1:8080",
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			MaxConnections: 10_000, MaxConnectionsPerSource: 256},
		Auth:       auth.DefaultConfig(),
		RPM:        rpm.Config{}, // the clinic's time zone unless set (Finish)
		Store:      StoreConfig{Kind: "sqlite", RetentionBatch: 5000},
		Records:    RecordsConfig{Kind: "sqlite"},
		Broker:     BrokerConfig{Embedded: true, Addr: "127.0.0.1:1883", Limits: broker.DefaultLimits()},
		Devices:    devices.DefaultConfig(),
		BrokerAuth: httpapi.DefaultBrokerAuthConfig(),
		Log:        LogConfig{Level: "info", Format: "json"},
		Sim:        SimConfig{Patients: -1, Interval: 5 * time.Second},
		Telehealth: telehealth.DefaultSettings(),
		Disk:       sqldb.DefaultDiskConfig(),
		Alerts:     AlertsConfig{Snooze: alerts.DefaultSnoozeLimits()},
		API:        httpapi.DefaultPageConfig(),
		HTTPIngest: httpapi.DefaultIngestConfig(),
	}
}

// LoadFile merges a YAML file into c. Unknown fields are errors.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ApplyEnv overrides fields from VITALWIRE_* variables in environ.
func (c *Config) ApplyEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "VITALWIRE_") {
			env[k] = v
		}
	}
	c.Records.password = env[RecordsPasswordEnv]
	return applyEnv(reflect.ValueOf(c).Elem(), "VITALWIRE", "", env)
}

var durationType = reflect.TypeOf(time.Duration(0))

func applyEnv(v reflect.Value, prefix, path string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		field := strings.TrimPrefix(path+"."+tag, ".")
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, field, env); err != nil {
				return err
			}
			continue
		}
		s, ok := env[name]
		if !ok {
			continue
		}
		if err := setString(fv, s); err != nil {
			return fmt.Errorf("%s (from %s): %w", field, name, err)
		}
	}
	return nil
}

func setString(fv reflect.Value, s string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(s)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case fv.CanInt():
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case fv.CanFloat():
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		fv.SetFloat(f)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Finish fills paths derived from DataDir and the dev-mode settings. Call
// it after the file, environment and flags are applied, before Validate.
func (c *Config) Finish() {
	if c.Sim.Patients < 0 {
		c.Sim.Patients = 0
		if c.Dev {
			c.Sim.Patients = 5
		}
	}
	// The program's calendar is the clinic's unless a program sets its
	// own: one setting, clinic.time_zone, serves the charts, the
	// measures and the billing report.
	if c.RPM.TimeZone == "" {
		c.RPM.TimeZone = c.Clinic.TimeZone
		if c.RPM.TimeZone == "" {
			c.RPM.TimeZone = "UTC"
		}
	}
	if c.Dev {
		c.Broker.Embedded = true
		if c.Log.Format == "json" {
			c.Log.Format = "console"
		}
	}
	join := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(c.DataDir, name)
		}
	}
	join(&c.Auth.SigningKeyFile, "signing.key")
	// The audit keys and checkpoints belong on another volume in
	// production (docs/AUDIT.md); beside the records they only get a
	// trial going.
	join(&c.Auth.Audit.ChainKeyFile, "audit-chain.key")
	join(&c.Auth.Audit.CheckpointKeyFile, "audit-checkpoint.key")
	join(&c.Auth.Audit.CheckpointFile, "audit-checkpoints.log")
	join(&c.Store.SQLitePath, "vitals.db")
	join(&c.Records.Path, "records.db")
	join(&c.Ingest.SpoolDir, "spool")
}

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field, Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate checks the configuration and reports every problem, each naming
// its field. Each component checks its own section; the sections that are
// the service's own (listeners, stores, logging) are checked here.
func (c *Config) Validate() error {
	var errs []error
	section := func(name string, err error) { errs = append(errs, inSection(name, err)...) }
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		bad("data_dir", "is required")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	errs = append(errs, c.checkListeners()...)
	section("http", c.HTTP.validate())
	errs = append(errs, c.Records.validate())
	section("store", c.Store.validateRetention())
	switch c.Store.Kind {
	case "sqlite":
	case "influx":
		section("store.influx", c.Store.Influx.Validate())
	default:
		bad("store.kind", "must be sqlite or influx, not %q", c.Store.Kind)
	}
	if c.Broker.Embedded {
		section("broker.limits", c.Broker.Limits.Validate())
		if c.Broker.ClientCAFile != "" && !c.TLS.Enabled() {
			bad("broker.client_ca_file", "client certificates need TLS: set tls.cert_file and tls.key_file")
		}
	} else {
		section("mqtt", c.MQTT.Validate())
	}
	section("ingest", c.Ingest.Validate())
	section("auth", c.Auth.Validate())
	section("telehealth", c.Telehealth.Validate())
	section("alerts.snooze", c.Alerts.Snooze.Validate())
	section("alerts.webhooks", alerts.ValidateWebhooks(c.Alerts.Webhooks))
	if w := c.Alerts.WebhookClaim; w != 0 && (w < time.Second || w > time.Hour) {
		bad("alerts.webhook_claim", "between 1s and 1h (0: 2m)")
	}
	section("api", c.API.Validate())
	section("clinic", c.Clinic.Validate())
	section("http_ingest", c.HTTPIngest.Validate())
	section("devices", c.Devices.Validate())
	section("broker_auth", c.BrokerAuth.Validate())
	section("log", c.Log.validate())
	section("disk", c.Disk.Validate())
	section("rpm", c.RPM.Validate())
	if c.Sim.Patients < 0 || c.Sim.Patients > 10_000 {
		bad("simulate.patients", "must be 0-10000")
	}
	if c.Sim.Patients > 0 && c.Sim.Interval <= 0 {
		bad("simulate.interval", "must be positive")
	}
	return errors.Join(errs...)
}

// inSection names each "field: problem" error of a component's Validate
// by its full path.
func inSection(name string, err error) []error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		field, problem, ok := strings.Cut(e.Error(), ": ")
		if !ok {
			field, problem = "", e.Error()
		}
		out = append(out, &FieldError{strings.TrimSuffix(name+"."+field, "."), problem})
	}
	return out
}

// checkListeners checks the addresses: host:port, loopback only in dev
// mode, and plaintext only on loopback unless said explicitly.
func (c *Config) checkListeners() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	check := func(field, addr string, required, allowPlain bool) {
		if addr == "" {
			if required {
				bad(field, "is required")
			}
			return
		}
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			bad(field, "must be host:port (%v)", err)
			return
		}
		if !c.TLS.Enabled() && !allowPlain && !isLoopback(host) {
			bad(field, "%s is not a loopback address and no TLS certificate is configured (set tls.cert_file and tls.key_file, or %s.allow_plaintext: true)", addr, strings.Split(field, ".")[0])
		}
		if c.Dev && !isLoopback(host) {
			bad(field, "--dev binds to loopback only, not %q", host)
		}
	}
	check("http.addr", c.HTTP.Addr, true, c.HTTP.AllowPlaintext)
	if c.Broker.Embedded {
		check("broker.addr", c.Broker.Addr, true, c.Broker.AllowPlaintext)
		check("broker.websocket_addr", c.Broker.WebSocketAddr, false, c.Broker.AllowPlaintext)
	}
	return errs
}

func (l LogConfig) validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, errors.New("level: must be debug, info, warn or error"))
	}
	switch l.Format {
	case "json", "console":
	default:
		errs = append(errs, errors.New("format: must be json or console"))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
