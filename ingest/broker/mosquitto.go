package broker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/topic"
)

// Credential is a username with its Mosquitto password hash.
type Credential struct {
	User, Hash string
}

// MosquittoOptions say where the generated Mosquitto configuration
// listens and what it must keep apart.
type MosquittoOptions struct {
	// ServiceUser is the ingester's username.
	ServiceUser string
	// IngestClientID is the base of the ingester's client ids (its
	// connection i is IngestClientID-i): no device may be named so, or
	// its connection would take the ingester's session.
	IngestClientID string
	// DeviceListener is where devices connect (host:port); there the
	// client id is always the username, the device id.
	DeviceListener string
	// ServiceListener is where only the service account connects, with
	// client ids of its choice; bind it where devices cannot reach.
	ServiceListener string
	// CertFile and KeyFile, when set, put the device listener under TLS.
	CertFile, KeyFile string
	// Limits give max_packet_size, max_keepalive and max_connections.
	Limits Limits
}

// MosquittoFiles writes, into dir, what an external Mosquitto needs to
// enforce the MQTT contract: "passwd" (every active device and the
// ingester's service account, PBKDF2-SHA512 hashes only), "passwd-service"
// (the service account alone) and "acl" (a device writes only its own
// readings and status and reads only its own rejects; the service account
// reads all device topics and writes rejects), plus "vitalwire.conf": the
// two listeners and the broker settings the delivery guarantees and the
// limits rely on, to include from a mosquitto.conf that defines no
// listener or authentication of its own.
//
// A device's client id must be its own id, or a device could connect
// under another's and take its session. Mosquitto can only enforce that by
// replacing every client id with the username (use_username_as_clientid),
// which would also give all of the ingester's connections one client id;
// so devices and the ingester get a listener each.
func MosquittoFiles(dir string, creds []Credential, o MosquittoOptions) error {
	if o.DeviceListener == "" || o.ServiceListener == "" {
		return errors.New("mosquitto files: the device and service listeners are required")
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("mosquitto files: a certificate and its key go together")
	}
	if o.IngestClientID == "" {
		o.IngestClientID = "vitalwire-ingest"
	}
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("mosquitto files: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("mosquitto files: %w", err)
	}
	var pw, svc strings.Builder
	for _, c := range creds {
		if strings.ContainsAny(c.User, ":\n") {
			return fmt.Errorf("mosquitto files: user %q cannot appear in a password file", c.User)
		}
		if c.User == o.ServiceUser {
			fmt.Fprintf(&svc, "%s:%s\n", c.User, c.Hash)
		} else if takesIngestSession(c.User, o.IngestClientID) {
			return fmt.Errorf("mosquitto files: device %q would connect under the ingester's client id %q; rename it or the ingester's mqtt.client_id", c.User, o.IngestClientID)
		}
		fmt.Fprintf(&pw, "%s:%s\n", c.User, c.Hash)
	}
	acl := fmt.Sprintf(`# Written by vitalwire mosquitto-config. Regenerate after adding or revoking devices.
# The ingester's service account.
user %s
topic read %s
topic read %s
topic write %s

# Every device (username = device id): only its own topics.
pattern write %s
pattern write %s
pattern read %s
`, o.ServiceUser, topic.ReadingsFilter, topic.StatusFilter, topic.RejectsFilter,
		topic.Readings("%u"), topic.Status("%u"), topic.Rejects("%u"))
	dev, err := mosquittoListener(o.DeviceListener)
	if err != nil {
		return fmt.Errorf("mosquitto files: device listener: %w", err)
	}
	ing, err := mosquittoListener(o.ServiceListener)
	if err != nil {
		return fmt.Errorf("mosquitto files: service listener: %w", err)
	}
	tls := ""
	if o.CertFile != "" {
		tls = fmt.Sprintf("certfile %s\nkeyfile %s\ntls_version tlsv1.2\n", o.CertFile, o.KeyFile)
	}
	conf := fmt.Sprintf(`# Written by vitalwire mosquitto-config (see docs/BROKERS.md). Include it from a
# mosquitto.conf that defines no listener or authentication of its own:
#   include_dir /etc/mosquitto/vitalwire.d   (holding this file)
per_listener_settings true

# Broker settings Vitalwire's delivery guarantees rely on.
# Acknowledgements wait for durable writes: allow enough QoS 1 messages in flight.
max_inflight_messages 1000
# While the ingester is down its persistent session queues readings: never drop them.
max_queued_messages 1000000
max_queued_bytes 0
# Keep sessions and queued messages across a broker restart.
persistence true
autosave_interval 10

# Limits: no packet larger than the contract's 64 KiB payload with its topic;
# MQTT 5 clients are held to this keep-alive.
max_packet_size %d
max_keepalive %d

# Devices. The client id is always the username, the device id: one device
# cannot take over another's session.
listener %s
use_username_as_clientid true
allow_anonymous false
password_file %s
acl_file %s
max_connections %d
%s
# The ingester's service account alone: several connections per instance and
# several instances share a subscription, each with its own client id.
# Bind it where devices cannot reach.
listener %s
allow_anonymous false
password_file %s
acl_file %s
`, o.Limits.MaxPacketBytes, int(o.Limits.MaxKeepAlive/time.Second),
		dev, filepath.Join(abs, "passwd"), filepath.Join(abs, "acl"), mosquittoConns(o.Limits.MaxConnections), tls,
		ing, filepath.Join(abs, "passwd-service"), filepath.Join(abs, "acl"))
	files := []struct {
		name, body string
		mode       os.FileMode
	}{{"passwd", pw.String(), 0o600}, {"passwd-service", svc.String(), 0o600}, {"acl", acl, 0o644}, {"vitalwire.conf", conf, 0o644}}
	for _, f := range files {
		tmp := filepath.Join(abs, "."+f.name+".tmp")
		if err := os.WriteFile(tmp, []byte(f.body), f.mode); err != nil {
			return fmt.Errorf("mosquitto files: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(abs, f.name)); err != nil {
			return fmt.Errorf("mosquitto files: %w", err)
		}
	}
	return nil
}

// takesIngestSession: on the device listener a device's client id is its
// id, so a device named like one of the ingester's connections would take
// that connection's session and its queued readings.
func takesIngestSession(device, ingest string) bool {
	if device == ingest {
		return true
	}
	n, ok := strings.CutPrefix(device, ingest+"-")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// mosquittoListener turns host:port into Mosquitto's "port host".
func mosquittoListener(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" {
		return port, nil
	}
	return port + " " + host, nil
}

func mosquittoConns(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
