// Command wearsim provisions simulated wearables with a Vitalwire server and
// drives load through an MQTT broker.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vitalwire/vitalwire/simulators"
)

const usage = `wearsim: simulated wearables for Vitalwire

Usage:
  wearsim provision --server URL --token T (--scenario FILE | --patients N [--devices-per-patient K]) --out devices.json
  wearsim run --broker tcp://HOST:1883 --devices devices.json (--scenario FILE | --patients N ...) [--accel 60] [--truth truth.jsonl]
  wearsim load --broker tcp://HOST:1883 --server URL --devices devices.json [--token T] [--duration 60s] [--batch 10] [--rate N]
                [--readings N] [--spacing 1s] [--cpu name=PID,...]

Progress goes to stderr every few seconds, the JSON report to stdout, and a
summary of refusals by reason and any warnings to stderr at the end.

Run "wearsim COMMAND -h" for a command's flags.
`

// fleetFlags are the flags that choose the simulated fleet.
type fleetFlags struct {
	scenario       *string
	patients       *int
	perPatient     *int
	seed           *uint64
	duration       *time.Duration
	uploadEvery    *time.Duration
	locale, prefix *string
}

func addFleetFlags(fs *flag.FlagSet) fleetFlags {
	return fleetFlags{
		scenario:    fs.String("scenario", "", "scenario YAML (patients, devices, events); or generate with --patients"),
		patients:    fs.Int("patients", 10, "patients to generate when there is no scenario"),
		perPatient:  fs.Int("devices-per-patient", 0, "devices per generated patient (0: the profile's usual set)"),
		seed:        fs.Uint64("seed", 1, "random seed: the same seed gives the same stream"),
		duration:    fs.Duration("duration", 24*time.Hour, "simulated duration when there is no scenario"),
		uploadEvery: fs.Duration("upload-every", 0, "how often watches, rings and patches upload (0: each kind's own)"),
		locale:      fs.String("locale", "", "us: Fahrenheit, pounds, mg/dL; otherwise Celsius, kg, mmol/L"),
		prefix:      fs.String("prefix", "sim-patient", "ids of generated patients"),
	}
}

func (f fleetFlags) build(start time.Time) (*simulators.Scenario, error) {
	if *f.scenario != "" {
		return simulators.LoadScenario(*f.scenario)
	}
	sc := &simulators.Scenario{Start: start, Duration: *f.duration, Seed: *f.seed, Generate: *f.patients,
		Prefix: *f.prefix, Locale: *f.locale, UploadEvery: *f.uploadEvery}
	if err := sc.Normalize(); err != nil {
		return nil, err
	}
	if k := *f.perPatient; k > 0 {
		for i := range sc.Patients {
			ds := sc.Patients[i].Devices
			sc.Patients[i].Devices = ds[:min(k, len(ds))]
		}
	}
	return sc, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line and returns the exit code: 0 (also for help
// asked for), 1 when the command failed, 2 for a command line it could not
// parse.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "provision", "run", "load":
	default:
		fmt.Fprintf(stderr, "wearsim: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := command(ctx, args[0], args[1:], stdout, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errFlags):
		return 2 // the flag set has said what is wrong, with the command's flags
	case err != nil:
		fmt.Fprintln(stderr, "wearsim:", err)
		return 1
	}
	return 0
}

// errFlags marks a command line whose flags did not parse; the flag set has
// already printed the problem and the command's flags.
var errFlags = errors.New("bad flags")

// parse parses args with fs. Asked with -h, it prints the command's flags
// on stdout and returns flag.ErrHelp; after a flag error it prints the
// error and the flags on stderr and returns an error wrapping errFlags.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var out bytes.Buffer
	fs.SetOutput(&out)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = out.WriteTo(stdout)
		return err
	case err != nil:
		_, _ = out.WriteTo(stderr)
		return fmt.Errorf("%w: %w", errFlags, err)
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func command(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	switch name {
	case "provision":
		fs := flag.NewFlagSet("wearsim provision", flag.ContinueOnError)
		server := fs.String("server", "http://127.0.0.1:8080", "Vitalwire base URL")
		token := fs.String("token", os.Getenv("VITALWIRE_TOKEN"), "admin bearer token")
		fleet := addFleetFlags(fs)
		out := fs.String("out", "devices.json", "where to write the credentials (mode 0600)")
		parallel := fs.Int("parallel", 8, "registrations in flight")
		history := fs.Duration("history", 0, "bind the devices this long before now as well, so that history uploads of readings that old are attributed (0-30 days)")
		if err := parse(fs, args, stdout, stderr); err != nil {
			return err
		}
		if *history < 0 || *history > 30*24*time.Hour {
			return fmt.Errorf("--history: between 0 and 720h, not %s", *history)
		}
		sc, err := fleet.build(time.Now().UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		// Bound from a minute before the scenario starts (or the history
		// asked for), so that its first readings are attributed however
		// long provisioning takes.
		devs, err := simulators.ProvisionDevices(ctx, *server, *token, sc.DeviceIDs(), sc.Start.Add(-time.Minute-*history), *parallel)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(devs, "", "  ")
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "provisioned %d devices into %s\n", len(devs), *out)
		return nil
	case "run":
		fs := flag.NewFlagSet("wearsim run", flag.ContinueOnError)
		broker := fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL (ssl:// for TLS)")
		devicesFile := fs.String("devices", "devices.json", "credentials written by provision")
		fleet := addFleetFlags(fs)
		accel := fs.Float64("accel", 1, "simulated seconds per wall second (60: an hour a minute)")
		wall := fs.Duration("for", 0, "stop after this wall time (0: at the simulated end)")
		truthFile := fs.String("truth", "", "write the ground truth here (JSON lines)")
		qos := fs.Int("qos", 1, "MQTT QoS of readings")
		caFile := fs.String("tls-ca", "", "CA certificate to verify the broker (ssl:// brokers)")
		quiet := fs.Bool("quiet", false, "no progress line")
		every := fs.Duration("progress-every", 5*time.Second, "time between progress lines")
		if err := parse(fs, args, stdout, stderr); err != nil {
			return err
		}
		// A generated fleet starts now, so that its readings are live.
		sc, err := fleet.build(time.Now().UTC().Truncate(time.Second))
		if err != nil {
			return err
		}
		devs, err := readDevices(*devicesFile)
		if err != nil {
			return err
		}
		secrets := map[string]string{}
		for _, d := range devs {
			secrets[d.ID] = d.Secret
		}
		var truth io.Writer
		if *truthFile != "" {
			f, err := os.Create(*truthFile)
			if err != nil {
				return err
			}
			defer f.Close()
			truth = f
		}
		r := &simulators.Runner{Broker: *broker, QoS: byte(*qos), Sim: simulators.NewSimulation(sc, truth), Secrets: secrets, Accel: *accel}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s: no certificate", *caFile)
			}
			r.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		if !*quiet {
			r.Progress, r.ProgressEvery = stderr, *every
		}
		if *wall > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *wall)
			defer cancel()
		}
		rep, err := r.Run(ctx)
		if err != nil {
			return err
		}
		summarize(stderr, rep.Refused, rep.RefusedBy, rep.RefusalDetails, rep.Hints(), rep.Warnings)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "load":
		fs := flag.NewFlagSet("wearsim load", flag.ContinueOnError)
		broker := fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
		server := fs.String("server", "http://127.0.0.1:8080", "Vitalwire base URL (its /metrics measures durability)")
		devicesFile := fs.String("devices", "devices.json", "credentials written by provision")
		duration := fs.Duration("duration", 60*time.Second, "how long to publish")
		batch := fs.Int("batch", 10, "readings per message")
		window := fs.Int("window", 64, "unacknowledged messages per connection")
		rate := fs.Int("rate", 0, "messages per second in all (0: as fast as acknowledged)")
		qos := fs.Int("qos", 1, "MQTT QoS")
		probeFile := fs.String("probe-device", "", "credentials file of one device whose readings trip the probe rule (publish-to-alert latency)")
		probeToken := fs.String("probe-token", "", "token of a clinician of the probe device's patient")
		probeRule := fs.String("probe-rule", "probe", "the rule the probe readings trip")
		probeEvery := fs.Duration("probe-every", 200*time.Millisecond, "time between probes")
		token := fs.String("token", "", "token of a user who may read the devices' patients (a clinician of their care team, or the patient): "+
			"the run's own readings are read back to measure lost_readings")
		quiet := fs.Bool("quiet", false, "no progress line")
		every := fs.Duration("progress-every", 5*time.Second, "time between progress lines")
		readings := fs.Int64("readings", 0, "stop after this many readings in all (0: publish for --duration)")
		spacing := fs.Duration("spacing", 0, "event time between a device's readings, a history ending at the start (0: the publish time)")
		cpu := fs.String("cpu", "", "processes whose CPU time per million durable readings to report, as name=PID,name=PID (Linux /proc)")
		if err := parse(fs, args, stdout, stderr); err != nil {
			return err
		}
		devs, err := readDevices(*devicesFile)
		if err != nil {
			return err
		}
		pids, err := parsePIDs(*cpu)
		if err != nil {
			return err
		}
		if *readings < 0 || *spacing < 0 {
			return errors.New("--readings and --spacing: must not be negative")
		}
		l := &simulators.Load{Broker: *broker, Server: *server, Devices: devs, Batch: *batch, Window: *window,
			Rate: *rate, Duration: *duration, QoS: byte(*qos), Token: *token, ProgressEvery: *every,
			Readings: *readings, Spacing: *spacing, CPU: pids}
		if !*quiet {
			l.Progress = stderr
		}
		var probe *simulators.AlertProbe
		if *probeFile != "" {
			pd, err := readDevices(*probeFile)
			if err != nil || len(pd) != 1 {
				return fmt.Errorf("--probe-device: one device is needed (%v)", err)
			}
			probe = &simulators.AlertProbe{Broker: *broker, Server: *server, Device: pd[0], Token: *probeToken,
				Rule: *probeRule, Every: *probeEvery, Duration: *duration}
		}
		var probeRep simulators.ProbeReport
		var probeErr error
		probeDone := make(chan struct{})
		go func() {
			defer close(probeDone)
			if probe != nil {
				probeRep, probeErr = probe.Run(ctx)
			}
		}()
		rep, err := l.Run(ctx)
		if err != nil {
			return err
		}
		<-probeDone
		if probeErr != nil {
			return probeErr
		}
		if probe != nil {
			rep.Probe = &probeRep
			// The probe's own readings (two a probe) are in the server-wide
			// count, not the load's.
			rep.DurableReadings -= int64(2 * probeRep.Probes)
		}
		summarize(stderr, rep.Refused, rep.RefusedBy, rep.RefusalDetails, nil, rep.Warnings)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return fmt.Errorf("unknown command %q", name)
}

// summarize writes the refusals by reason and the warnings for people.
func summarize(w io.Writer, refused int64, byReason map[string]int64, details, hints map[string]string, warnings []string) {
	simulators.Summary(w, refused, byReason, details, hints)
	for _, s := range warnings {
		fmt.Fprintln(w, "warning:", s)
	}
}

// readDevices reads the credentials file written by provision.
func readDevices(path string) ([]simulators.Device, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var devs []simulators.Device
	if err := json.Unmarshal(b, &devs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return devs, nil
}

// parsePIDs reads "name=PID,name=PID".
func parsePIDs(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		name, pid, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(pid)
		if !ok || name == "" || err != nil || n <= 0 {
			return nil, fmt.Errorf("--cpu: %q: want name=PID", kv)
		}
		out[name] = n
	}
	return out, nil
}
