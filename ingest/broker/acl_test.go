package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/topic"
)

func TestACL(t *testing.T) {
	h := &accessHook{policy: NewPolicy(nil, "vitalwire-ingest", "pw")}
	client := func(user string) *mqtt.Client {
		return &mqtt.Client{Properties: mqtt.ClientProperties{Username: []byte(user)}}
	}
	for _, tc := range []struct {
		name, user, topic string
		write, want       bool
	}{
		{"a device publishes its own readings", "watch-1", topic.Readings("watch-1"), true, true},
		{"a device publishes its own status", "watch-1", topic.Status("watch-1"), true, true},
		{"a device may not publish another's readings", "watch-1", topic.Readings("watch-2"), true, false},
		{"a device may not publish rejects", "watch-1", topic.Rejects("watch-1"), true, false},
		{"a device reads its own rejects", "watch-1", topic.Rejects("watch-1"), false, true},
		{"a device may not read another's rejects", "watch-1", topic.Rejects("watch-2"), false, false},
		{"a device may not read every device's rejects", "watch-1", topic.RejectsFilter, false, false},
		{"the service account reads every device's readings", "vitalwire-ingest", topic.ReadingsFilter, false, true},
		{"the service account reads through a shared subscription", "vitalwire-ingest", topic.Shared("vitalwire", topic.ReadingsFilter), false, true},
		{"the service account may not share a subscription outside the device topics", "vitalwire-ingest", topic.Shared("vitalwire", "#"), false, false},
		{"the service account may not read outside the device topics", "vitalwire-ingest", "other/topic", false, false},
		{"the service account writes a device's rejects", "vitalwire-ingest", topic.Rejects("watch-1"), true, true},
		{"the service account may not write readings", "vitalwire-ingest", topic.Readings("watch-1"), true, false},
		{"the service account may not write rejects under an extra level", "vitalwire-ingest", topic.Rejects("a/b"), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, h.OnACLCheck(client(tc.user), tc.topic, tc.write))
		})
	}
}

func TestMosquittoACL(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, MosquittoFiles(dir, []Credential{{User: "watch-1", Hash: "$7$x"}}, testListeners))
	acl, err := os.ReadFile(filepath.Join(dir, "acl"))
	require.NoError(t, err)
	for _, line := range []string{
		"user vitalwire-ingest",
		"topic read " + topic.ReadingsFilter,
		"topic read " + topic.StatusFilter,
		"topic write " + topic.RejectsFilter,
		// Mosquitto puts the username (the device id) for %u.
		"pattern write " + topic.Readings("%u"),
		"pattern write " + topic.Status("%u"),
		"pattern read " + topic.Rejects("%u"),
	} {
		require.Contains(t, strings.Split(string(acl), "\n"), line)
	}
}

var testListeners = MosquittoOptions{ServiceUser: "vitalwire-ingest", DeviceListener: "0.0.0.0:8883", ServiceListener: "127.0.0.1:1884"}

func TestMosquittoListeners(t *testing.T) {
	dir := t.TempDir()
	creds := []Credential{{User: "watch-1", Hash: "$7$d"}, {User: "vitalwire-ingest", Hash: "$7$s"}}
	require.NoError(t, MosquittoFiles(dir, creds, testListeners))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		return string(b)
	}
	t.Run("the service listener knows only the service account", func(t *testing.T) {
		require.Equal(t, "vitalwire-ingest:$7$s\n", read("passwd-service"))
		require.Contains(t, read("passwd"), "watch-1:$7$d\n")
	})
	t.Run("the device listener replaces every client id with the username", func(t *testing.T) {
		conf := read("vitalwire.conf")
		dev, svc, ok := strings.Cut(conf, "listener 1884 127.0.0.1\n")
		require.True(t, ok, conf)
		require.Contains(t, dev, "per_listener_settings true\n")
		require.Contains(t, dev, "listener 8883 0.0.0.0\nuse_username_as_clientid true\n")
		require.Contains(t, dev, "password_file "+filepath.Join(dir, "passwd")+"\n")
		require.NotContains(t, svc, "use_username_as_clientid")
		require.Contains(t, svc, "password_file "+filepath.Join(dir, "passwd-service")+"\n")
		require.Contains(t, conf, fmt.Sprintf("max_packet_size %d\n", DefaultLimits().MaxPacketBytes))
	})
	t.Run("a device named like one of the ingester's connections is refused", func(t *testing.T) {
		for _, id := range []string{"vitalwire-ingest-0", "vitalwire-ingest-12"} {
			err := MosquittoFiles(t.TempDir(), []Credential{{User: id, Hash: "$7$d"}}, testListeners)
			require.ErrorContains(t, err, "ingester's client id", id)
		}
		require.NoError(t, MosquittoFiles(t.TempDir(), []Credential{{User: "vitalwire-ingest-watch", Hash: "$7$d"}}, testListeners))
	})
}
