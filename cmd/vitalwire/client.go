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
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
)

// client calls the server's HTTP API.
type client struct {
	server, token string
	http          *http.Client
}

// clientFlags adds --server, --token and --data-dir. tokenFile is the token
// serve --dev leaves in the data folder for this kind of command:
// admin.token to manage, clinician.token to read patient data.
func clientFlags(fs *flag.FlagSet, tokenFile string) func() (*client, error) {
	server := fs.String("server", "", "server URL (default: VITALWIRE_SERVER, else DATA/server.url, else http://127.0.0.1:8080)")
	token := fs.String("token", "", "bearer token (default: VITALWIRE_TOKEN, else DATA/"+tokenFile+" from serve --dev)")
	dataDir := fs.String("data-dir", "data", "data folder of a local serve --dev")
	caFile := fs.String("cacert", os.Getenv("VITALWIRE_CACERT"), "CA certificate to verify an https server (e.g. from dev-cert)")
	return func() (*client, error) {
		c := &client{server: *server, token: *token, http: http.DefaultClient}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--cacert %s: no certificate", *caFile)
			}
			c.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(*dataDir, name))
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}
		if c.server == "" {
			c.server = os.Getenv("VITALWIRE_SERVER")
		}
		if c.server == "" {
			c.server = read("server.url")
		}
		if c.server == "" {
			c.server = "http://127.0.0.1:8080"
		}
		if c.token == "" {
			c.token = os.Getenv("VITALWIRE_TOKEN")
		}
		if c.token == "" {
			c.token = read(tokenFile)
		}
		if c.token == "" {
			return nil, errors.New("no token: pass --token, set VITALWIRE_TOKEN, or run serve --dev")
		}
		return c, nil
	}
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach server: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// send sends body as it is and returns the status and the answer (at
// most 64 MiB).
func (c *client) send(ctx context.Context, method, path, contentType, accept string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", accept)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("reach server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, b, err
}

func deviceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: vitalwire device add ID [--kind K] [--patient P] | enrol FILE.csv [--secrets FILE] | list [--search Q] | kinds | bind ID PATIENT | unbind ID | revoke ID")
	}
	sub := args[0]
	fs := newFlagSet("device "+sub, "device add ID [--kind K] [--patient P] [--manufacturer M] [--model M] [--serial S] | enrol FILE.csv [--secrets FILE] | list [--search Q] [--max N] | kinds | bind ID PATIENT [--at TIME] | unbind ID [--at TIME] | revoke ID")
	mk := clientFlags(fs, "admin.token")
	kind := fs.String("kind", "", "device kind (add; see device kinds)")
	secretsOut := fs.String("secrets", "", "write the new devices' secrets (CSV id,secret) to this new file, mode 0600, instead of stdout (enrol)")
	search := fs.String("search", "", "only devices whose id, kind, serial, model, firmware or patient holds this (list)")
	maxList := fs.Int("max", 10_000, "list at most this many devices (list)")
	patient := fs.String("patient", "", "bind to this patient at once (add)")
	maker := fs.String("manufacturer", "", "who made the device, as its label says (add)")
	model := fs.String("model", "", "the maker's model name or number (add)")
	serial := fs.String("serial", "", "the maker's serial number (add)")
	at := fs.String("at", "", "RFC 3339 time the binding changes (bind, unbind; default now)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args[1:], stdout, stderr)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	var when time.Time
	if *at != "" {
		if when, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	need := func(n int, usage string) error {
		if len(pos) != n {
			return errors.New("usage: vitalwire device " + usage)
		}
		return nil
	}
	var d devices.Device
	switch sub {
	case "add":
		if err := need(1, "add ID [--kind K] [--patient P] [--manufacturer M] [--model M] [--serial S]"); err != nil {
			return err
		}
		var resp httpapi.AddDeviceResponse
		if err := c.do(ctx, "POST", "/api/v1/devices", httpapi.AddDeviceRequest{ID: pos[0], Kind: *kind, Patient: *patient,
			Manufacturer: *maker, Model: *model, Serial: *serial}, &resp); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(resp)
		}
		fmt.Fprintf(stdout, "device %s added\nsecret: %s\n(shown once: configure the device with it now; MQTT username = %s)\n", resp.ID, resp.Secret, resp.ID)
		return nil
	case "enrol", "enroll":
		if err := need(1, "enrol FILE.csv [--secrets FILE]"); err != nil {
			return err
		}
		return enrol(ctx, c, pos[0], *secretsOut, *asJSON, stdout, stderr)
	case "kinds":
		var kinds []devices.Kind
		if err := c.do(ctx, "GET", "/api/v1/device-kinds", nil, &kinds); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(kinds)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tWHAT\tMEASURES")
		for _, k := range kinds {
			ms := make([]string, len(k.Measures))
			for i, m := range k.Measures {
				ms[i] = string(m)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Label, strings.Join(ms, ", "))
		}
		return tw.Flush()
	case "list":
		list, total, err := listDevices(ctx, c, *search, *maxList)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tPATIENT\tSTATUS\tBATTERY\tFIRMWARE\tLAST SEEN\tSERIAL\tMODEL\tMANUFACTURER")
		for _, d := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, orDash(d.Kind), currentPatient(d), deviceState(d), battery(d),
				orDash(d.Status.Firmware), age(d.Status.LastSeen), orDash(d.Serial), orDash(d.Model), orDash(d.Manufacturer))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(list) < total {
			fmt.Fprintf(stderr, "%d of %d devices shown (--max, --search)\n", len(list), total)
		}
		return nil
	case "bind":
		if err := need(2, "bind ID PATIENT [--at TIME]"); err != nil {
			return err
		}
		err = c.do(ctx, "POST", "/api/v1/devices/"+url.PathEscape(pos[0])+"/bind", httpapi.BindRequest{Patient: pos[1], At: when}, &d)
	case "unbind":
		if err := need(1, "unbind ID [--at TIME]"); err != nil {
			return err
		}
		err = c.do(ctx, "POST", "/api/v1/devices/"+url.PathEscape(pos[0])+"/unbind", httpapi.BindRequest{At: when}, &d)
	case "revoke":
		if err := need(1, "revoke ID"); err != nil {
			return err
		}
		err = c.do(ctx, "POST", "/api/v1/devices/"+url.PathEscape(pos[0])+"/revoke", nil, &d)
	default:
		return fmt.Errorf("unknown device command %q", sub)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(d)
	}
	fmt.Fprintf(stdout, "device %s: %s, patient %s\n", d.ID, deviceState(d), currentPatient(d))
	return nil
}

// listDevices follows the device list's pages until max devices.
func listDevices(ctx context.Context, c *client, search string, max int) ([]devices.Device, int, error) {
	var out []devices.Device
	v := url.Values{"limit": {"1000"}}
	if search != "" {
		v.Set("q", search)
	}
	next := "/api/v1/devices?" + v.Encode()
	total := 0
	for next != "" && len(out) < max {
		var p httpapi.DevicePage
		if err := c.do(ctx, "GET", next, nil, &p); err != nil {
			return nil, 0, err
		}
		out, total, next = append(out, p.Devices...), p.Total, p.Next
	}
	return out[:min(len(out), max)], total, nil
}

// enrol sends a CSV of devices to the bulk enrolment and writes the
// secrets it answers (to a new 0600 file, or stdout), or each bad row.
func enrol(ctx context.Context, c *client, file, secretsOut string, asJSON bool, stdout, stderr io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var out *os.File
	if secretsOut != "" {
		// Made before the enrolment, so that the secrets have a place to go.
		if out, err = os.OpenFile(secretsOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("--secrets: %w", err)
		}
		defer out.Close()
	}
	accept := "text/csv"
	if asJSON {
		accept = "application/json"
	}
	status, body, err := c.send(ctx, "POST", "/api/v1/devices/bulk", "text/csv", accept, f)
	if err != nil {
		if out != nil {
			os.Remove(secretsOut)
		}
		return err
	}
	if status != http.StatusCreated {
		if out != nil {
			os.Remove(secretsOut)
		}
		var refusal httpapi.BulkEnrolRefusal
		if json.Unmarshal(body, &refusal) == nil && len(refusal.Rows) > 0 {
			for _, r := range refusal.Rows {
				id := ""
				if r.ID != "" {
					id = " (" + r.ID + ")"
				}
				fmt.Fprintf(stderr, "%s:%d%s: %s\n", file, r.Line, id, r.Reason)
			}
			if refusal.More > 0 {
				fmt.Fprintf(stderr, "... and %d more bad rows\n", refusal.More)
			}
			return fmt.Errorf("nothing was enrolled: %d bad rows in %s", len(refusal.Rows)+refusal.More, file)
		}
		var e httpapi.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%d %s: %s", status, http.StatusText(status), e.Error)
		}
		return fmt.Errorf("%d %s", status, http.StatusText(status))
	}
	if out == nil {
		_, err = stdout.Write(body)
		return err
	}
	if _, err := out.Write(body); err != nil {
		return fmt.Errorf("--secrets: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("--secrets: %w", err)
	}
	fmt.Fprintf(stdout, "enrolled %d devices; their secrets are in %s (shown once: configure the devices, then delete it)\n",
		max(strings.Count(string(body), "\n")-1, 0), secretsOut)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func currentPatient(d devices.Device) string {
	if p, ok := d.Patient(time.Now()); ok {
		return p
	}
	return "-"
}

func deviceState(d devices.Device) string {
	switch {
	case d.Revoked():
		return "revoked"
	case d.Status.Online:
		return "online"
	case d.Status.LastSeen.IsZero():
		return "never seen"
	}
	return "offline"
}

func battery(d devices.Device) string {
	if d.Status.Battery == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *d.Status.Battery*100)
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func readingsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("readings", "readings --patient P [--type T] [--since 10m] [--json]")
	mk := clientFlags(fs, "clinician.token")
	patient := fs.String("patient", "", "patient id (required)")
	typ := fs.String("type", "", "vital type, or several comma-separated (default: all)")
	since := fs.Duration("since", 10*time.Minute, "how far back")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *patient == "" {
		return errors.New("--patient is required")
	}
	c, err := mk()
	if err != nil {
		return err
	}
	q := url.Values{"since": {since.String()}}
	if *typ != "" {
		q.Set("type", *typ)
	}
	// The server answers a page at a time; the next link names the next.
	var resp httpapi.Readings
	for next := "/api/v1/patients/" + url.PathEscape(*patient) + "/readings?" + q.Encode(); next != ""; {
		var page httpapi.Readings
		if err := c.do(ctx, "GET", next, nil, &page); err != nil {
			return err
		}
		resp.Readings = append(resp.Readings, page.Readings...)
		next = page.Next
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(resp.Readings)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tVALUE\tUNIT\tDEVICE")
	for _, r := range resp.Readings {
		v := fmt.Sprintf("%g", r.Value)
		if r.Diastolic != nil {
			v = fmt.Sprintf("%g/%g", r.Value, *r.Diastolic)
		}
		ts := r.Time.Local().Format("2006-01-02 15:04:05")
		if r.ReceivedTime {
			ts += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ts, r.Type, v, r.Unit, r.Device)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d readings\n", len(resp.Readings))
	return nil
}
