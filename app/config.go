package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/ingest"
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
	MQTT    MQTTConfig    `yaml:"mqtt"`
	Ingest  ingest.Config `yaml:"ingest"`
	Log     LogConfig     `yaml:"log"`
	Sim     SimConfig     `yaml:"simulate"`
	Alerts  AlertsConfig  `yaml:"alerts"`
	// Telehealth configures video visits.
	Telehealth TelehealthConfig `yaml:"telehealth"`
	// TLS, when a certificate and key are set, serves HTTPS and MQTT over
	// TLS (the embedded broker's listeners).
	TLS TLSConfig `yaml:"tls"`
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
}

// AuthConfig locates the token signing key.
type AuthConfig struct {
	// SigningKeyFile holds the hex HMAC key; created on first start.
	SigningKeyFile string `yaml:"signing_key_file"`
	// TokenTTL is the lifetime of tokens minted by the server (dev admin).
	TokenTTL time.Duration `yaml:"token_ttl"`
	// BreakGlassTTL is how long a break-glass grant lasts (default 1 h).
	BreakGlassTTL time.Duration `yaml:"break_glass_ttl"`
	// SessionIdle logs a browser session off after this long without
	// activity (default 15 min).
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionMaxAge ends a browser session this long after sign-in
	// whatever its activity (default 12 h).
	SessionMaxAge time.Duration `yaml:"session_max_age"`
}

// StoreConfig chooses the time-series store.
type StoreConfig struct {
	// Kind is "sqlite" (embedded, the default) or "influx".
	Kind       string             `yaml:"kind"`
	SQLitePath string             `yaml:"sqlite_path"`
	Influx     influxstore.Config `yaml:"influx"`
}

// RecordsConfig locates the records database (devices, later patients,
// alerts, visits, audit).
type RecordsConfig struct {
	Path string `yaml:"path"`
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
	Patients int `yaml:"patients"`
	// Interval is how often the simulated watches, rings and patches upload
	// what they measured (real ones batch for a minute or more).
	Interval time.Duration `yaml:"interval"`
}

// TelehealthConfig configures video visits and their media.
type TelehealthConfig struct {
	// STUNURLs are STUN servers for participants behind NAT, comma
	// separated (e.g. "stun:stun.example.org:3478").
	STUNURLs string `yaml:"stun_urls"`
	// TURNURLs relay media for participants no direct path reaches,
	// comma separated ("turn:host:3478?transport=udp"). With TURNSecret
	// (coturn's static-auth-secret) each participant gets short-lived
	// credentials of their own; otherwise TURNUsername and TURNCredential
	// are handed to every participant.
	TURNURLs       string `yaml:"turn_urls"`
	TURNSecret     string `yaml:"turn_secret"`
	TURNUsername   string `yaml:"turn_username"`
	TURNCredential string `yaml:"turn_credential"`
	// EmbeddedTURNAddr runs a TURN server in Vitalwire on this UDP address
	// (IP:port, the IP participants reach; "" for none). Its credentials
	// are short-lived, per participant, under a secret made at start.
	EmbeddedTURNAddr string `yaml:"embedded_turn_addr"`
	// UDPPortMin and UDPPortMax bound the media ports (0: any).
	UDPPortMin int `yaml:"udp_port_min"`
	UDPPortMax int `yaml:"udp_port_max"`
	// PublicIP is announced as the media address when the server sits
	// behind a 1:1 NAT.
	PublicIP string `yaml:"public_ip"`
	// LoopbackOnly offers only loopback media addresses (tests).
	LoopbackOnly bool `yaml:"loopback_only"`
	// JoinLinkTTL is how long a join link lasts (after the visit's
	// scheduled start; default 1 h).
	JoinLinkTTL time.Duration `yaml:"join_link_ttl"`
	// AttachLookback is how far before a visit the readings attached to
	// its Encounter reach (default 24 h).
	AttachLookback time.Duration `yaml:"attach_lookback"`
}

// DefaultConfig is the configuration of a production server with the
// embedded stores; Dev fills in the rest for --dev.
func DefaultConfig() Config {
	return Config{
		DataDir:    "data",
		HTTP:       HTTPConfig{Addr: "127.0.0.1:8080"},
		Auth:       AuthConfig{TokenTTL: 12 * time.Hour, BreakGlassTTL: time.Hour, SessionIdle: 15 * time.Minute, SessionMaxAge: 12 * time.Hour},
		Store:      StoreConfig{Kind: "sqlite"},
		Broker:     BrokerConfig{Embedded: true, Addr: "127.0.0.1:1883"},
		Log:        LogConfig{Level: "info", Format: "json"},
		Sim:        SimConfig{Interval: 5 * time.Second},
		Telehealth: TelehealthConfig{JoinLinkTTL: time.Hour, AttachLookback: 24 * time.Hour},
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
	if c.Dev {
		c.Broker.Embedded = true
		if c.Sim.Patients == 0 {
			c.Sim.Patients = 5
		}
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
// its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{field, fmt.Sprintf(format, args...)})
	}
	checkAddr := func(field, addr string, required bool) {
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
		if c.Dev && !isLoopback(host) {
			bad(field, "--dev binds to loopback only, not %q", host)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "is required")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file go together")
	}
	// Plaintext only on loopback, unless said explicitly.
	plain := func(field, addr string, allowed bool) {
		if c.TLS.Enabled() || allowed || addr == "" {
			return
		}
		if host, _, err := net.SplitHostPort(addr); err == nil && !isLoopback(host) {
			bad(field, "%s is not a loopback address and no TLS certificate is configured (set tls.cert_file and tls.key_file, or %s.allow_plaintext: true)", addr, strings.Split(field, ".")[0])
		}
	}
	plain("http.addr", c.HTTP.Addr, c.HTTP.AllowPlaintext)
	if c.Broker.Embedded {
		plain("broker.addr", c.Broker.Addr, c.Broker.AllowPlaintext)
		plain("broker.websocket_addr", c.Broker.WebSocketAddr, c.Broker.AllowPlaintext)
	}
	checkAddr("http.addr", c.HTTP.Addr, true)
	switch c.Store.Kind {
	case "sqlite":
	case "influx":
		if c.Store.Influx.URL == "" {
			bad("store.influx.url", "is required when store.kind is influx")
		}
		if c.Store.Influx.Bucket == "" {
			bad("store.influx.bucket", "is required when store.kind is influx")
		}
	default:
		bad("store.kind", "must be sqlite or influx, not %q", c.Store.Kind)
	}
	if c.Broker.Embedded {
		checkAddr("broker.addr", c.Broker.Addr, true)
		checkAddr("broker.websocket_addr", c.Broker.WebSocketAddr, false)
	} else {
		if c.MQTT.Broker == "" {
			bad("mqtt.broker", "is required when broker.embedded is false")
		}
		if c.MQTT.Connections < 0 || c.MQTT.Connections > 64 {
			bad("mqtt.connections", "must be 1-64")
		}
	}
	if c.Ingest.SpoolMaxBytes < 0 {
		bad("ingest.spool_max_bytes", "must not be negative")
	}
	if c.Ingest.MaxBatch < 0 || c.Ingest.MaxBatch > 100_000 {
		bad("ingest.max_batch", "must be 0-100000")
	}
	if c.Auth.TokenTTL <= 0 {
		bad("auth.token_ttl", "must be positive")
	}
	if c.Auth.BreakGlassTTL <= 0 || c.Auth.BreakGlassTTL > 24*time.Hour {
		bad("auth.break_glass_ttl", "must be between 0 and 24h")
	}
	th := c.Telehealth
	if th.UDPPortMin < 0 || th.UDPPortMax > 65535 || th.UDPPortMin > th.UDPPortMax || (th.UDPPortMin == 0) != (th.UDPPortMax == 0) {
		bad("telehealth.udp_port_min", "udp_port_min and udp_port_max: both 0, or 1 <= min <= max <= 65535")
	}
	if th.JoinLinkTTL < time.Minute || th.JoinLinkTTL > 7*24*time.Hour {
		bad("telehealth.join_link_ttl", "must be between 1m and 168h")
	}
	if th.AttachLookback < 0 || th.AttachLookback > 30*24*time.Hour {
		bad("telehealth.attach_lookback", "must be between 0 and 720h")
	}
	if th.TURNURLs != "" && th.TURNSecret == "" && (th.TURNUsername == "" || th.TURNCredential == "") {
		bad("telehealth.turn_secret", "TURN needs turn_secret, or turn_username and turn_credential")
	}
	if c.Auth.SessionIdle < 10*time.Second || c.Auth.SessionIdle > 12*time.Hour {
		bad("auth.session_idle", "must be between 10s and 12h")
	}
	if c.Auth.SessionMaxAge < c.Auth.SessionIdle || c.Auth.SessionMaxAge > 7*24*time.Hour {
		bad("auth.session_max_age", "must be at least auth.session_idle and at most 168h")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "must be json or console")
	}
	if c.Sim.Patients < 0 || c.Sim.Patients > 10_000 {
		bad("simulate.patients", "must be 0-10000")
	}
	if c.Sim.Patients > 0 && c.Sim.Interval <= 0 {
		bad("simulate.interval", "must be positive")
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
