// Command wearsim provisions simulated wearables with a Vitalwire server and
// drives load through an MQTT broker.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vitalwire/vitalwire/simulators"
)

const usage = `wearsim: simulated wearables for Vitalwire

  wearsim provision --server URL --token T --patients N [--prefix load] --out devices.json
  wearsim load --broker tcp://HOST:1883 --server URL --devices devices.json [--duration 60s] [--batch 10]
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "wearsim:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("a command is required")
	}
	switch args[0] {
	case "provision":
		fs := flag.NewFlagSet("provision", flag.ContinueOnError)
		server := fs.String("server", "http://127.0.0.1:8080", "Vitalwire base URL")
		token := fs.String("token", os.Getenv("VITALWIRE_TOKEN"), "admin bearer token")
		patients := fs.Int("patients", 10, "simulated patients")
		prefix := fs.String("prefix", "load", "patient id prefix")
		kind := fs.String("kind", simulators.Watch, "one device of this kind per patient")
		out := fs.String("out", "devices.json", "where to write the credentials (mode 0600)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		var ids []string
		for i := 1; i <= *patients; i++ {
			ids = append(ids, fmt.Sprintf("%s-%05d", *prefix, i))
		}
		devs, err := simulators.Provision(ctx, *server, *token, ids, []string{*kind})
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(devs, "", "  ")
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "provisioned %d devices into %s\n", len(devs), *out)
		return nil
	case "load":
		fs := flag.NewFlagSet("load", flag.ContinueOnError)
		broker := fs.String("broker", "tcp://127.0.0.1:1883", "MQTT broker URL")
		server := fs.String("server", "http://127.0.0.1:8080", "Vitalwire base URL (its /metrics measures durability)")
		devicesFile := fs.String("devices", "devices.json", "credentials written by provision")
		duration := fs.Duration("duration", 60*time.Second, "how long to publish")
		batch := fs.Int("batch", 10, "readings per message")
		window := fs.Int("window", 64, "unacknowledged messages per connection")
		rate := fs.Int("rate", 0, "messages per second in all (0: as fast as acknowledged)")
		qos := fs.Int("qos", 1, "MQTT QoS")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		b, err := os.ReadFile(*devicesFile)
		if err != nil {
			return err
		}
		var devs []simulators.Device
		if err := json.Unmarshal(b, &devs); err != nil {
			return fmt.Errorf("%s: %w", *devicesFile, err)
		}
		l := &simulators.Load{Broker: *broker, Server: *server, Devices: devs, Batch: *batch, Window: *window,
			Rate: *rate, Duration: *duration, QoS: byte(*qos)}
		rep, err := l.Run(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
