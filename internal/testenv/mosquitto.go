package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Mosquitto is a running mosquitto broker with persistence on.
type Mosquitto struct {
	Addr string // host:port
	Dir  string // its folder (config, persistence)
	proc *process
}

// URL is the broker's tcp:// URL.
func (m *Mosquitto) URL() string { return "tcp://" + m.Addr }

// MosquittoOptions adjust the generated configuration.
type MosquittoOptions struct {
	// PasswordFile and ACLFile switch off anonymous access.
	PasswordFile, ACLFile string
	// Extra lines appended to the configuration.
	Extra string
}

// MosquittoBinary returns the mosquitto path, or "".
func MosquittoBinary() string { return lookBinary("VITALWIRE_MOSQUITTO", "mosquitto") }

// StartMosquitto starts mosquitto on a free loopback port with the broker
// settings Vitalwire's delivery guarantees need (see docs/BROKERS.md).
func StartMosquitto(t testing.TB, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	bin := MosquittoBinary()
	if bin == "" {
		Missing(t, "mosquitto not found (apt-get install -y mosquitto)")
	}
	dir := t.TempDir()
	port := FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
persistence true
persistence_location %s/
autosave_interval 1
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
max_packet_size 1048576
log_dest stderr
log_type error
log_type warning
`, port, dir)
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	if opts.PasswordFile != "" {
		conf += "allow_anonymous false\npassword_file " + opts.PasswordFile + "\n"
		if opts.ACLFile != "" {
			conf += "acl_file " + opts.ACLFile + "\n"
		}
	} else {
		conf += "allow_anonymous true\n"
	}
	conf += opts.Extra
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	m.proc = &process{
		name: "mosquitto", bin: bin, args: []string{"-c", confPath}, out: &lockedBuffer{},
		ready: func(exited <-chan struct{}) error { return WaitTCP(m.Addr, exited, 20*time.Second) },
	}
	if err := m.proc.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.proc.stop)
	return m
}

// Stop stops the broker cleanly (it saves its persistence file).
func (m *Mosquitto) Stop() { m.proc.stop() }

// Start starts a stopped broker again with the same config and data.
func (m *Mosquitto) Start(t testing.TB) {
	t.Helper()
	if err := m.proc.start(); err != nil {
		t.Fatal(err)
	}
}

// Log returns what the broker printed so far.
func (m *Mosquitto) Log() string { return m.proc.out.String() }
