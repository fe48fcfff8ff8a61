package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/vitalwire/vitalwire/topic"
)

// Policy is who may connect to a broker and what each may publish and
// read: the rules the embedded broker enforces itself, and the answers an
// external broker (EMQX, a Mosquitto auth plugin) gets from Vitalwire's
// broker-auth HTTP endpoint, so that both brokers decide alike.
type Policy struct {
	devices     Authenticator
	serviceUser string
	serviceSum  [32]byte
}

// NewPolicy is the policy of the device registry and the service account
// (serviceUser "" for none).
func NewPolicy(devices Authenticator, serviceUser, servicePassword string) *Policy {
	return &Policy{devices: devices, serviceUser: serviceUser, serviceSum: sha256.Sum256([]byte(servicePassword))}
}

// IsService reports whether user is the service account.
func (p *Policy) IsService(user string) bool { return p.serviceUser != "" && user == p.serviceUser }

// Login decides a connection by its username, password and client id: ""
// when allowed, else why not (for the log; never the password). A
// device's client id must be its id: another device's would take over
// that device's session.
func (p *Policy) Login(user, password, clientID string) string {
	switch {
	case user == "":
		return "no username"
	case p.IsService(user):
		sum := sha256.Sum256([]byte(password))
		if subtle.ConstantTimeCompare(sum[:], p.serviceSum[:]) != 1 {
			return "credentials"
		}
		return ""
	case clientID != user:
		return "client id is not the device id"
	case !p.devices.Authenticate(user, password):
		return "credentials"
	}
	return ""
}

// Allow decides a publish (write) or a subscription or delivery (read) of
// user on a topic or filter: the service account writes only rejects and
// reads device topics (plain or through a shared subscription); a device
// writes only its own readings and status and reads only its own rejects.
func (p *Policy) Allow(user, t string, write bool) bool {
	if p.IsService(user) {
		if write {
			_, kind, ok := topic.Parse(t)
			return ok && kind == topic.KindRejects
		}
		if _, filter, ok := topic.Unshare(t); ok {
			t = filter
		}
		return strings.HasPrefix(t, topic.Prefix)
	}
	if write {
		return t == topic.Readings(user) || t == topic.Status(user)
	}
	return t == topic.Rejects(user)
}
