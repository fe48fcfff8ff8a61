package topic_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/topic"
)

func TestBuilders(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"a device publishes readings under its own id", topic.Readings("watch-1"), "vitalwire/v1/devices/watch-1/readings"},
		{"a device's status sits beside its readings", topic.Status("watch-1"), "vitalwire/v1/devices/watch-1/status"},
		{"a device hears its refusals on rejects", topic.Rejects("watch-1"), "vitalwire/v1/devices/watch-1/rejects"},
		{"the readings filter matches every device", topic.ReadingsFilter, "vitalwire/v1/devices/+/readings"},
		{"the status filter matches every device", topic.StatusFilter, "vitalwire/v1/devices/+/status"},
		{"the rejects filter matches every device", topic.RejectsFilter, "vitalwire/v1/devices/+/rejects"},
		{"a shared subscription names its group before the filter", topic.Shared("vitalwire", topic.ReadingsFilter), "$share/vitalwire/vitalwire/v1/devices/+/readings"},
		{"a Mosquitto ACL pattern is a topic with %u for the device", topic.Readings("%u"), "vitalwire/v1/devices/%u/readings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.got)
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		topic  string
		device string
		kind   topic.Kind
		ok     bool
	}{
		{"a readings topic gives its device", "vitalwire/v1/devices/watch-1/readings", "watch-1", topic.KindReadings, true},
		{"a status topic gives its device", "vitalwire/v1/devices/ring.2/status", "ring.2", topic.KindStatus, true},
		{"a rejects topic gives its device", "vitalwire/v1/devices/patch_3/rejects", "patch_3", topic.KindRejects, true},
		{"an empty device id is refused", "vitalwire/v1/devices//readings", "", "", false},
		{"a missing kind is refused", "vitalwire/v1/devices/watch-1", "", "", false},
		{"a trailing slash is refused", "vitalwire/v1/devices/watch-1/", "", "", false},
		{"an unknown kind is refused", "vitalwire/v1/devices/watch-1/config", "", "", false},
		{"an extra level after the kind is refused", "vitalwire/v1/devices/watch-1/readings/extra", "", "", false},
		{"an extra level in the device id is refused", "vitalwire/v1/devices/ward/watch-1/readings", "", "", false},
		{"a single-level wildcard as the device is refused", "vitalwire/v1/devices/+/readings", "", "", false},
		{"a multi-level wildcard as the device is refused", "vitalwire/v1/devices/#/readings", "", "", false},
		{"a wildcard inside the device id is refused", "vitalwire/v1/devices/watch+1/readings", "", "", false},
		{"a trailing multi-level wildcard is refused", "vitalwire/v1/devices/#", "", "", false},
		{"another version is refused", "vitalwire/v2/devices/watch-1/readings", "", "", false},
		{"a kind in another case is refused", "vitalwire/v1/devices/watch-1/Readings", "", "", false},
		{"a shared subscription is not a topic", "$share/vitalwire/vitalwire/v1/devices/watch-1/readings", "", "", false},
		{"the empty string is refused", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			device, kind, ok := topic.Parse(tc.topic)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.device, device)
			require.Equal(t, tc.kind, kind)
		})
	}
}

// builders maps each kind to the function that writes its topic.
var builders = map[topic.Kind]func(string) string{
	topic.KindReadings: topic.Readings,
	topic.KindStatus:   topic.Status,
	topic.KindRejects:  topic.Rejects,
}

func TestParseReadsWhatTheBuildersWrite(t *testing.T) {
	for kind, build := range builders {
		t.Run(string(kind), func(t *testing.T) {
			device, got, ok := topic.Parse(build("sim-patient-001-watch"))
			require.True(t, ok)
			require.Equal(t, "sim-patient-001-watch", device)
			require.Equal(t, kind, got)
		})
	}
}

func TestUnshare(t *testing.T) {
	for _, tc := range []struct {
		name, in, group, filter string
		ok                      bool
	}{
		{"a shared filter gives its group and filter", "$share/vitalwire/vitalwire/v1/devices/+/readings", "vitalwire", topic.ReadingsFilter, true},
		{"a plain filter is not shared", topic.ReadingsFilter, "", "", false},
		{"an empty group is refused", "$share//vitalwire/v1/devices/+/readings", "", "", false},
		{"a wildcard group is refused", "$share/+/vitalwire/v1/devices/+/readings", "", "", false},
		{"a group without a filter is refused", "$share/vitalwire", "", "", false},
		{"a group with an empty filter is refused", "$share/vitalwire/", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group, filter, ok := topic.Unshare(tc.in)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.group, group)
			require.Equal(t, tc.filter, filter)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"vitalwire/v1/devices/watch-1/readings", "vitalwire/v1/devices//status", "vitalwire/v1/devices/+/rejects", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		device, kind, ok := topic.Parse(s)
		if !ok {
			return
		}
		// What Parse accepts is exactly what the builders write.
		require.Equal(t, s, builders[kind](device))
	})
}
