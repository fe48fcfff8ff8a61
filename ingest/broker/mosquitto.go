package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vitalwire/vitalwire/topic"
)

// Credential is a username with its Mosquitto password hash.
type Credential struct {
	User, Hash string
}

// MosquittoFiles writes, into dir, what an external Mosquitto needs to
// enforce the MQTT contract: "passwd" (every active device and the
// ingester's service account, PBKDF2-SHA512 hashes only) and "acl" (a
// device writes only its own readings and status and reads only its own
// rejects; the service account reads all device topics and writes
// rejects), plus "vitalwire.conf", the broker settings the delivery
// guarantees rely on, to include from mosquitto.conf.
func MosquittoFiles(dir string, creds []Credential, serviceUser string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mosquitto files: %w", err)
	}
	var pw strings.Builder
	for _, c := range creds {
		if strings.ContainsAny(c.User, ":\n") {
			return fmt.Errorf("mosquitto files: user %q cannot appear in a password file", c.User)
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
`, serviceUser, topic.ReadingsFilter, topic.StatusFilter, topic.RejectsFilter,
		topic.Readings("%u"), topic.Status("%u"), topic.Rejects("%u"))
	conf := `# Broker settings Vitalwire's delivery guarantees rely on (see docs/BROKERS.md).
# Acknowledgements wait for durable writes: allow enough QoS 1 messages in flight.
max_inflight_messages 1000
# While the ingester is down its persistent session queues readings: never drop them.
max_queued_messages 1000000
max_queued_bytes 0
# Keep sessions and queued messages across a broker restart.
persistence true
autosave_interval 10
allow_anonymous false
`
	files := []struct {
		name, body string
		mode       os.FileMode
	}{{"passwd", pw.String(), 0o600}, {"acl", acl, 0o644}, {"vitalwire.conf", conf, 0o644}}
	for _, f := range files {
		tmp := filepath.Join(dir, "."+f.name+".tmp")
		if err := os.WriteFile(tmp, []byte(f.body), f.mode); err != nil {
			return fmt.Errorf("mosquitto files: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return fmt.Errorf("mosquitto files: %w", err)
		}
	}
	return nil
}
