package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/buildinfo"
	"github.com/vitalwire/vitalwire/internal/devcert"
)

const usage = `vitalwire: wearable and telehealth ingestion service

Usage:
  vitalwire serve [--dev] [--config FILE] [flags]   run the server
  vitalwire token create --sub ID --role ROLE       mint a bearer token from the local signing key
  vitalwire device add ID [--kind K] [--patient P]  register a device (its secret is shown once)
                    [--manufacturer M] [--model M] [--serial S]  (the maker's labels)
  vitalwire device enrol FILE.csv [--secrets FILE]   register a fleet from a CSV (id,kind,patient,serial,model,manufacturer), all or nothing
  vitalwire device list [--search Q] | kinds | bind ID PATIENT | unbind ID | revoke ID
  vitalwire readings --patient P [--type T] [--since 10m] [--json]
  vitalwire mosquitto-config --out DIR              password and ACL files for an external Mosquitto
  vitalwire patient add ID --mrn M --name N --birth-date D | list      patient records (admin)
                    [--gender G] [--family F] [--given G ...]  (gender; name parts)
  vitalwire team add ID --name N | add-member TEAM --clinician C | --patient P | list
  vitalwire token revoke TOKEN                      refuse a token from now on
  vitalwire signin-link --sub ID --role ROLE [--ttl 15m]   a one-time link to the browser UI
  vitalwire user set USERNAME --sub ID --role ROLE < FILE  set a browser password (read from stdin)
  vitalwire fhir-client add ID --name N --jwks FILE --scopes S --care-teams T | list | revoke ID
                                                    systems reading the FHIR API (SMART Backend Services)
  vitalwire audit verify | export [--from T] [--to T] [--patient P]
  vitalwire report rpm --month YYYY-MM [--care-team ID] [--csv | --json]   the monitoring program's billing report
  vitalwire dev-cert [--out DIR] [--host localhost,127.0.0.1]   a local CA and server certificate for TLS
  vitalwire backup --out DIR                        online backup of records and SQLite vitals, verified
  vitalwire restore --from DIR [--force]            put a backup in place (service stopped)
  vitalwire records migrate --from sqlite:FILE      copy SQLite records into the PostgreSQL records.dsn names, verified
  vitalwire bootstrap-admin --username NAME         the first admin of a new install (asks the running server)
  vitalwire version                                 the version, VCS revision, build date and Go release of this build

Run "vitalwire COMMAND -h" for a command's flags. Client commands reach the
server at --server (or VITALWIRE_SERVER) with --token (or VITALWIRE_TOKEN);
after "serve --dev" both are found in the data folder.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "token":
		err = tokenCmd(ctx, args[1:], stdout, stderr)
	case "device", "devices":
		err = deviceCmd(ctx, args[1:], stdout, stderr)
	case "readings":
		err = readingsCmd(ctx, args[1:], stdout, stderr)
	case "mosquitto-config":
		err = mosquittoConfig(ctx, args[1:], stdout, stderr)
	case "dev-cert":
		err = devCert(args[1:], stdout, stderr)
	case "audit":
		err = auditCmd(ctx, args[1:], stdout, stderr)
	case "patient", "patients":
		err = patientCmd(ctx, args[1:], stdout, stderr)
	case "team", "teams":
		err = teamCmd(ctx, args[1:], stdout, stderr)
	case "signin-link":
		err = signInLinkCmd(ctx, args[1:], stdout, stderr)
	case "user", "users":
		err = userCmd(ctx, args[1:], os.Stdin, stdout, stderr)
	case "report":
		err = reportCmd(ctx, args[1:], stdout, stderr)
	case "backup":
		err = backupCmd(ctx, args[1:], stdout, stderr)
	case "restore":
		err = restoreCmd(ctx, args[1:], stdout, stderr)
	case "bootstrap-admin":
		err = bootstrapAdminCmd(ctx, args[1:], stdout, stderr)
	case "records":
		err = recordsCmd(ctx, args[1:], stdout, stderr)
	case "fhir-client", "fhir-clients":
		err = fhirClientCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2 // the flag set has said what is wrong, with the command's flags
	case err != nil:
		fmt.Fprintln(stderr, "vitalwire:", err)
		return 1
	}
	return 0
}

// version describes this build: the version, revision and date a release
// build stamps in (-ldflags, internal/buildinfo), else what the Go
// toolchain recorded: the module version ("(devel)" for a build from a
// checkout), the VCS revision and its time; and the Go release.
func version() string { return buildinfo.Get().String() }

func describeBuild(bi *debug.BuildInfo) string { return buildinfo.From(bi, "", "", "").String() }

// configFlags select and override the server's configuration. Every
// command that reads it takes --config and --data-dir (the local commands
// need them to find the records database, the signing key and the
// ingester's password); serve's own overrides are registered by
// addServeFlags only, so that no other command lists or accepts them.
type configFlags struct {
	fs            *flag.FlagSet
	file, dataDir *string
	// serve's; nil for other commands.
	dev                                   *bool
	httpAddr, brokerAddr, store, logLevel *string
	patients                              *int
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	return &configFlags{
		fs:      fs,
		file:    fs.String("config", "", "YAML configuration `file`"),
		dataDir: fs.String("data-dir", "", "data `folder` (default \"data\")"),
	}
}

func addServeFlags(fs *flag.FlagSet) *configFlags {
	f := addConfigFlags(fs)
	f.dev = fs.Bool("dev", false, "one-machine mode: embedded broker and stores, simulated patients, loopback only")
	f.httpAddr = fs.String("http-addr", "", "HTTP listen `address` (default 127.0.0.1:8080)")
	f.brokerAddr = fs.String("broker-addr", "", "embedded MQTT broker `address` (default 127.0.0.1:1883)")
	f.store = fs.String("store", "", "time-series store: sqlite or influx")
	f.patients = new(int)
	fs.Func("simulate-patients", "`N` simulated patients (default 5 with --dev)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errors.New("a number of patients, 0 or more")
		}
		*f.patients = n
		return nil
	})
	f.logLevel = fs.String("log-level", "", "debug, info, warn or error")
	return f
}

// parseAndLoad parses a command line that takes no positional arguments
// and loads the configuration it names (load).
func (f *configFlags) parseAndLoad(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (app.Config, error) {
	pos, err := parse(fs, args, stdout, stderr)
	if err != nil {
		return app.Config{}, err
	}
	if err := noArgs(pos); err != nil {
		return app.Config{}, err
	}
	return f.load()
}

// load applies defaults, the file, the environment and the flags that were
// set, in that order. Call it after parsing.
func (f *configFlags) load() (app.Config, error) {
	cfg := app.DefaultConfig()
	if *f.file != "" {
		if err := cfg.LoadFile(*f.file); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.Environ()); err != nil {
		return cfg, err
	}
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "data-dir":
			cfg.DataDir = *f.dataDir
		case "dev":
			cfg.Dev = *f.dev
		case "http-addr":
			cfg.HTTP.Addr = *f.httpAddr
		case "broker-addr":
			cfg.Broker.Addr = *f.brokerAddr
		case "store":
			cfg.Store.Kind = *f.store
		case "simulate-patients":
			cfg.Sim.Patients = *f.patients
		case "log-level":
			cfg.Log.Level = *f.logLevel
		}
	})
	cfg.Finish()
	return cfg, cfg.Validate()
}

// holdsSecrets says whether the configuration carries a password, token
// or webhook secret (from its file or the environment).
func holdsSecrets(cfg app.Config) bool {
	if cfg.MQTT.Password != "" || cfg.Store.Influx.Token != "" || cfg.Auth.OIDC.ClientSecret != "" {
		return true
	}
	for _, h := range cfg.Alerts.Webhooks {
		if h.Secret != "" {
			return true
		}
	}
	return false
}

// errFlags marks a command line whose flags did not parse; the flag set has
// already printed the problem and the command's flags.
var errFlags = errors.New("bad flags")

// newFlagSet returns the flag set of "vitalwire " + name; synopsis is the
// usage line printed above its flags.
func newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("vitalwire "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vitalwire %s\n\nflags:\n", synopsis)
		printFlags(fs)
	}
	return fs
}

// printFlags prints the flags as PrintDefaults does, spelled --name as the
// usage texts spell them.
func printFlags(fs *flag.FlagSet) {
	out := fs.Output()
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	fmt.Fprint(out, flagLine.ReplaceAllString(b.String(), "  --"))
}

var flagLine = regexp.MustCompile(`(?m)^  -`)

// parse parses args with fs, flags before or after positional arguments,
// and returns the positional ones. Asked with -h, it prints the command's
// usage on stdout and returns flag.ErrHelp; after a flag error it prints
// the error and the usage on stderr and returns an error wrapping errFlags.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	pos, err := parseInterleaved(fs, args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = out.WriteTo(stdout)
		return nil, err
	case err != nil:
		_, _ = out.WriteTo(stderr)
		return nil, fmt.Errorf("%w: %w", errFlags, err)
	}
	return pos, nil
}

// noArgs refuses positional arguments for a command that takes none.
func noArgs(pos []string) error {
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return nil
}

func newLogger(cfg app.Config, stderr io.Writer) zerolog.Logger {
	level, _ := zerolog.ParseLevel(cfg.Log.Level)
	var w io.Writer = stderr
	if cfg.Log.Format == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--dev] [--config FILE] [flags]")
	cf := addServeFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if *cf.file != "" && holdsSecrets(cfg) {
		if fi, err := os.Stat(*cf.file); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn().Str("config", *cf.file).Str("mode", fi.Mode().Perm().String()).
				Msg("the configuration file holds secrets and others can read it: chmod 600 it, or pass the secrets in the environment (VITALWIRE_MQTT_PASSWORD, ...)")
		}
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	if cfg.Dev {
		dev := a.Dev()
		fmt.Fprintf(stdout, `
Vitalwire is running (dev mode, loopback only).
  API:          %s
  MQTT broker:  tcp://%s
  Admin token:      %s
  Clinician token:  %s  (dev-clinician, care team dev-ward)

  Dashboard (one-time sign-in links, valid for 12 h):
    clinician: %s
    admin:     %s
  Simulated patients: %d (sim-patient-001 ...), uploading every %s

More links: go run ./cmd/vitalwire signin-link --sub dev-clinician --role clinician
Try, in another terminal:
  go run ./cmd/vitalwire readings --patient sim-patient-001 --since 5m
  go run ./cmd/vitalwire device list
(the CLI finds the server and token in %s/)

`, a.URL(), a.BrokerAddr(), dev.AdminToken, dev.ClinicianToken, dev.ClinicianSignIn, dev.AdminSignIn, cfg.Sim.Patients, cfg.Sim.Interval, cfg.DataDir)
	}
	// SIGHUP reloads the alert rules.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				a.ReloadRules()
			}
		}
	}()
	// First signal drains; a second one forces the exit.
	go func() {
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(stderr, "second signal: exiting without draining")
		os.Exit(1)
	}()
	return a.Run(ctx)
}

func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		fs := newFlagSet("token revoke", "token revoke TOKEN")
		mk := clientFlags(fs, "admin.token")
		pos, err := parse(fs, args[1:], stdout, stderr)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errors.New("usage: vitalwire token revoke TOKEN")
		}
		c, err := mk()
		if err != nil {
			return err
		}
		if err := c.do(ctx, "POST", "/api/v1/tokens/revoke", httpapi.RevokeRequest{Token: pos[0]}, nil); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "token revoked")
		return nil
	}
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: vitalwire token create --sub ID --role admin|clinician|patient [--ttl 12h]")
	}
	fs := newFlagSet("token create", "token create --sub ID --role admin|clinician|patient [--ttl 12h]")
	sub := fs.String("sub", "", "subject: the user's id")
	role := fs.String("role", "", "admin, clinician or patient")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	r, err := auth.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("--role: %w", err)
	}
	if !devices.ValidID(*sub) {
		return fmt.Errorf("--sub: %w", devices.ErrInvalidID)
	}
	if *ttl <= 0 {
		return errors.New("--ttl: must be positive")
	}
	key, err := auth.LoadOrCreateKey(cfg.Auth.SigningKeyFile)
	if err != nil {
		return err
	}
	s, err := auth.NewSigner(key)
	if err != nil {
		return err
	}
	tok, c := s.Mint(*sub, r, *ttl)
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "token for %s (%s), expires %s\n", c.Subject, c.Role, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	return nil
}

func mosquittoConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mosquitto-config", "mosquitto-config --out DIR [--service-user U] [--device-listener HOST:PORT] [--service-listener HOST:PORT] [--config FILE]")
	out := fs.String("out", "", "`folder` to write passwd, passwd-service, acl and vitalwire.conf into")
	user := fs.String("service-user", "vitalwire-ingest", "the ingester's MQTT username")
	devListener := fs.String("device-listener", "0.0.0.0:1883", "`address` devices connect to (client id = device id; 8883 is usual with --cert-file)")
	svcListener := fs.String("service-listener", "127.0.0.1:1884", "`address` only the ingester connects to")
	certFile := fs.String("cert-file", "", "server certificate (PEM) for the device listener")
	keyFile := fs.String("key-file", "", "its private key (PEM)")
	cf := addConfigFlags(fs)
	cfg, err := cf.parseAndLoad(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	password := cfg.MQTT.Password
	if password == "" {
		return errors.New("the ingester's password is required: set mqtt.password in the config or VITALWIRE_MQTT_PASSWORD")
	}
	// The folder holds the broker's password hashes: the operator hands it
	// to the broker's user (chown -R), and no one else need look into it.
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := os.Chmod(*out, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	db, err := openRecords(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	reg, err := devices.Open(ctx, db)
	if err != nil {
		return err
	}
	creds := []broker.Credential{{User: *user, Hash: auth.MosquittoHash(password)}}
	for _, c := range reg.ActiveCredentials() {
		creds = append(creds, broker.Credential{User: c.ID, Hash: c.MosquittoHash})
	}
	opts := broker.MosquittoOptions{ServiceUser: *user, IngestClientID: cfg.MQTT.ClientID,
		DeviceListener: *devListener, ServiceListener: *svcListener, CertFile: *certFile, KeyFile: *keyFile, Limits: cfg.Broker.Limits}
	if err := broker.MosquittoFiles(*out, creds, opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/{passwd,passwd-service,acl,vitalwire.conf}: %d devices and the service account %s\n", strings.TrimRight(*out, "/"), len(creds)-1, *user)
	return nil
}

func devCert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev-cert", "dev-cert [--out DIR] [--host localhost,127.0.0.1]")
	out := fs.String("out", "data/tls", "`folder` for ca.pem, server.pem and their keys")
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "names and addresses the server certificate is for")
	pos, err := parse(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	f, err := devcert.Write(*out, strings.Split(*hosts, ","))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `wrote %s (the CA: give it to clients) and %s with its key %s.
Serve with TLS:
  tls:
    cert_file: %s
    key_file: %s
Then: curl --cacert %s https://localhost:8080/healthz
      mosquitto_pub --cafile %s -h localhost -p 1883 ...
`, f.CA, f.Cert, f.Key, f.Cert, f.Key, f.CA, f.CA)
	return nil
}

// openRecords opens the records database the configuration names.
func openRecords(ctx context.Context, cfg app.Config) (*sql.DB, error) {
	src, err := cfg.Records.Source()
	if err != nil {
		return nil, err
	}
	return src.Open(ctx)
}
