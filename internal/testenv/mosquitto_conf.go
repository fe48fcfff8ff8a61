package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartMosquittoConf starts mosquitto with a configuration of the caller's
// (its listeners and their authentication, e.g. the vitalwire.conf that
// `vitalwire mosquitto-config` writes), after a preamble that keeps its
// persistence in a temporary folder and its log on stderr. It is ready
// once ready (host:port) accepts connections.
func StartMosquittoConf(t testing.TB, conf, ready string) *Mosquitto {
	t.Helper()
	bin := MosquittoBinary()
	if bin == "" {
		Missing(t, "mosquitto not found (apt-get install -y mosquitto)")
	}
	dir := t.TempDir()
	pre := fmt.Sprintf("persistence_location %s/\nlog_dest stderr\nlog_type error\nlog_type warning\n", dir)
	if os.Geteuid() == 0 {
		pre += "user root\n"
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(pre+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{Addr: ready, Dir: dir}
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
