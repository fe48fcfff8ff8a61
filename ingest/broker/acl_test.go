package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/topic"
)

func TestACL(t *testing.T) {
	h := &accessHook{serviceUser: []byte("vitalwire-ingest")}
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
	require.NoError(t, MosquittoFiles(dir, []Credential{{User: "watch-1", Hash: "$7$x"}}, "vitalwire-ingest"))
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
