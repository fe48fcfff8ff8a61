// Package topic names Vitalwire's MQTT topics: the one place that spells the
// wire contract between devices and the server, so that the ingester, the
// embedded broker's access hook, the Mosquitto ACL writer and the simulators
// cannot drift apart.
//
//	vitalwire/v1/devices/{device}/readings  device -> server, QoS 1
//	vitalwire/v1/devices/{device}/status    device -> server, retained; the last will
//	vitalwire/v1/devices/{device}/rejects   server -> device: why readings were refused
//
// A device id is one topic level: never empty, no "/", and no wildcard ("+",
// "#"). The builders trust their argument (ids are checked where devices are
// registered, see devices.ValidID); Parse checks what arrives.
//
// topic imports nothing of Vitalwire's. The simulators, which are clients of
// the server and otherwise import only vitals, may import it too: the topic
// names are part of the contract a client speaks.
package topic

import "strings"

// Prefix is the part every device topic starts with.
const Prefix = "vitalwire/v1/devices/"

// Kind is the last level of a device topic: what the topic carries.
type Kind string

// The kinds of device topic.
const (
	KindReadings Kind = "readings"
	KindStatus   Kind = "status"
	KindRejects  Kind = "rejects"
)

// Subscription filters over every device.
const (
	ReadingsFilter = Prefix + "+/" + string(KindReadings)
	StatusFilter   = Prefix + "+/" + string(KindStatus)
	RejectsFilter  = Prefix + "+/" + string(KindRejects)
)

// Readings returns the topic a device publishes its readings on.
func Readings(device string) string { return of(device, KindReadings) }

// Status returns a device's retained status topic (also its last will's).
func Status(device string) string { return of(device, KindStatus) }

// Rejects returns the topic the server reports a device's refused readings on.
func Rejects(device string) string { return of(device, KindRejects) }

// Parse splits a device topic into its device id and kind. ok is false for
// anything else: another prefix, an empty device id, a wildcard in it, an
// unknown kind, or more levels.
func Parse(t string) (device string, kind Kind, ok bool) {
	rest, found := strings.CutPrefix(t, Prefix)
	if !found {
		return "", "", false
	}
	device, last, found := strings.Cut(rest, "/")
	if !found || !validLevel(device) {
		return "", "", false
	}
	switch k := Kind(last); k {
	case KindReadings, KindStatus, KindRejects:
		return device, k, true
	}
	return "", "", false
}

func of(device string, k Kind) string { return Prefix + device + "/" + string(k) }

func validLevel(s string) bool { return s != "" && !strings.ContainsAny(s, "/+#") }

// sharePrefix starts an MQTT 5 shared subscription (also understood by
// Mosquitto, EMQX, HiveMQ and VerneMQ for MQTT 3.1.1 clients).
const sharePrefix = "$share/"

// Shared returns the shared-subscription form of filter for group:
// $share/{group}/{filter}. The broker spreads the matching messages over the
// group's subscribers, so that several ingester connections (and nodes)
// share the load.
func Shared(group, filter string) string { return sharePrefix + group + "/" + filter }

// Unshare splits a shared subscription $share/{group}/{filter} into its
// group and filter. ok is false for a filter that is not shared, or whose
// group is empty or holds a wildcard.
func Unshare(s string) (group, filter string, ok bool) {
	rest, found := strings.CutPrefix(s, sharePrefix)
	if !found {
		return "", "", false
	}
	group, filter, found = strings.Cut(rest, "/")
	if !found || !validLevel(group) || filter == "" {
		return "", "", false
	}
	return group, filter, true
}
