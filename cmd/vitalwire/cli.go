package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/devcert"
	"github.com/vitalwire/vitalwire/internal/sqldb"
)

const usage = `vitalwire: wearable and telehealth ingestion service

Usage:
  vitalwire serve [--dev] [--config FILE] [flags]   run the server
  vitalwire token create --sub ID --role ROLE       mint a bearer token from the local signing key
  vitalwire device add ID [--kind K] [--patient P]  register a device (its secret is shown once)
  vitalwire device list | bind ID PATIENT | unbind ID | revoke ID
  vitalwire readings --patient P [--type T] [--since 10m] [--json]
  vitalwire mosquitto-config --out DIR              password and ACL files for an external Mosquitto
  vitalwire patient add ID --mrn M --name N --birth-date D | list      patient records (admin)
  vitalwire team add ID --name N | add-member TEAM --clinician C | --patient P | list
  vitalwire token revoke TOKEN                      refuse a token from now on
  vitalwire signin-link --sub ID --role ROLE [--ttl 15m]   a one-time link to the browser UI
  vitalwire user set USERNAME --sub ID --role ROLE < FILE  set a browser password (read from stdin)
  vitalwire audit verify | export [--from T] [--to T] [--patient P]
  vitalwire dev-cert [--out DIR] [--host localhost,127.0.0.1]   a local CA and server certificate for TLS

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
		err = tokenCmd(args[1:], stdout)
	case "device", "devices":
		err = deviceCmd(ctx, args[1:], stdout)
	case "readings":
		err = readingsCmd(ctx, args[1:], stdout)
	case "mosquitto-config":
		err = mosquittoConfig(ctx, args[1:], stdout)
	case "dev-cert":
		err = devCert(args[1:], stdout)
	case "audit":
		err = auditCmd(ctx, args[1:], stdout)
	case "patient", "patients":
		err = patientCmd(ctx, args[1:], stdout)
	case "team", "teams":
		err = teamCmd(ctx, args[1:], stdout)
	case "signin-link":
		err = signInLinkCmd(ctx, args[1:], stdout)
	case "user", "users":
		err = userCmd(ctx, args[1:], os.Stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "vitalwire:", err)
		return 1
	}
	return 0
}

// loadConfig applies defaults, the file, the environment and the flags
// that were set, in that order.
func loadConfig(fs *flag.FlagSet, args []string, extra func(*app.Config)) (app.Config, error) {
	cfg := app.DefaultConfig()
	configFile := fs.String("config", "", "YAML configuration file")
	dev := fs.Bool("dev", false, "one-machine mode: embedded broker and stores, simulated patients, loopback only")
	dataDir := fs.String("data-dir", "", "data folder (default \"data\")")
	httpAddr := fs.String("http-addr", "", "HTTP listen address (default 127.0.0.1:8080)")
	brokerAddr := fs.String("broker-addr", "", "embedded MQTT broker address (default 127.0.0.1:1883)")
	storeKind := fs.String("store", "", "time-series store: sqlite or influx")
	patients := fs.Int("simulate-patients", -1, "simulated patients (default 5 with --dev)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *configFile != "" {
		if err := cfg.LoadFile(*configFile); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.Environ()); err != nil {
		return cfg, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "dev":
			cfg.Dev = *dev
		case "data-dir":
			cfg.DataDir = *dataDir
		case "http-addr":
			cfg.HTTP.Addr = *httpAddr
		case "broker-addr":
			cfg.Broker.Addr = *brokerAddr
		case "store":
			cfg.Store.Kind = *storeKind
		case "simulate-patients":
			cfg.Sim.Patients = *patients
		case "log-level":
			cfg.Log.Level = *logLevel
		}
	})
	if extra != nil {
		extra(&cfg)
	}
	cfg.Finish()
	return cfg, cfg.Validate()
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
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
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

func tokenCmd(args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "revoke" {
		fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
		mk := clientFlags(fs, "admin.token")
		pos, err := parseInterleaved(fs, args[1:])
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
		if err := c.do(context.Background(), "POST", "/api/v1/tokens/revoke", httpapi.RevokeRequest{Token: pos[0]}, nil); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "token revoked")
		return nil
	}
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: vitalwire token create --sub ID --role admin|clinician|patient [--ttl 12h]")
	}
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject: the user's id")
	role := fs.String("role", "", "admin, clinician or patient")
	ttl := fs.Duration("ttl", 12*time.Hour, "lifetime")
	cfg, err := loadConfig(fs, args[1:], nil)
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
	fmt.Fprintf(os.Stderr, "token for %s (%s), expires %s\n", c.Subject, c.Role, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	return nil
}

func mosquittoConfig(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mosquitto-config", flag.ContinueOnError)
	out := fs.String("out", "", "folder to write passwd, acl and vitalwire.conf into")
	user := fs.String("service-user", "vitalwire-ingest", "the ingester's MQTT username")
	cfg, err := loadConfig(fs, args, nil)
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
	db, err := sqldb.OpenRecords(ctx, cfg.Records.Path)
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
	if err := broker.MosquittoFiles(*out, creds, *user); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/{passwd,acl,vitalwire.conf}: %d devices and the service account %s\n", strings.TrimRight(*out, "/"), len(creds)-1, *user)
	return nil
}

func devCert(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev-cert", flag.ContinueOnError)
	out := fs.String("out", "data/tls", "folder for ca.pem, server.pem and their keys")
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "names and addresses the server certificate is for")
	if err := fs.Parse(args); err != nil {
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
