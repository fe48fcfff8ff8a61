package telehealth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// TURN for participants whom no direct path reaches (symmetric NATs,
// networks that allow only relayed UDP). Credentials are short-lived and
// per participant and visit, in the TURN REST API form that coturn's
// use-auth-secret also accepts: the username is "expiry:handle" and the
// password the base64 HMAC-SHA1 of the username under a shared secret.
// The handle is random: a TURN server (and its logs, perhaps a
// provider's) learns neither who the participant is nor which visit.
// No static TURN password is ever sent to a browser. The embedded server
// also refuses a credential whose participant is no longer in its visit,
// and relays only to the server's own addresses.

const turnRealm = "vitalwire"

// TURNCredentials issues ephemeral TURN credentials for a set of URLs.
type TURNCredentials struct {
	URLs   []string
	secret []byte
	ttl    time.Duration

	mu     sync.Mutex
	grants map[string]turnGrant // by handle
}

// turnGrant is whom a handle was issued to, until when.
type turnGrant struct {
	visit, subject string
	expires        time.Time
}

// NewTURNCredentials returns an issuer for urls with secret (empty: a
// random secret, for the embedded server), valid for ttl.
func NewTURNCredentials(urls []string, secret string, ttl time.Duration) *TURNCredentials {
	key := []byte(secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	return &TURNCredentials{URLs: urls, secret: key, ttl: ttl, grants: map[string]turnGrant{}}
}

// For returns an ICE server entry for subject in visit.
func (c *TURNCredentials) For(visit, subject string) webrtc.ICEServer {
	now := time.Now()
	expires := now.Add(c.ttl)
	h := make([]byte, 12)
	rand.Read(h)
	handle := hex.EncodeToString(h)
	c.mu.Lock()
	for k, g := range c.grants {
		if now.After(g.expires) {
			delete(c.grants, k)
		}
	}
	c.grants[handle] = turnGrant{visit: visit, subject: subject, expires: expires}
	c.mu.Unlock()
	user := strconv.FormatInt(expires.Unix(), 10) + ":" + handle
	return webrtc.ICEServer{URLs: c.URLs, Username: user, Credential: c.password(user)}
}

func (c *TURNCredentials) password(user string) string {
	m := hmac.New(sha1.New, c.secret)
	m.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// check validates a username this issuer gave out (not expired) and
// returns its password and grant.
func (c *TURNCredentials) check(user string) (string, turnGrant, bool) {
	exp, handle, ok := strings.Cut(user, ":")
	if !ok {
		return "", turnGrant{}, false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > t {
		return "", turnGrant{}, false
	}
	c.mu.Lock()
	g, ok := c.grants[handle]
	c.mu.Unlock()
	if !ok {
		return "", turnGrant{}, false
	}
	return c.password(user), g, true
}

// TURNOptions are the embedded TURN server's checks beyond the
// credential's signature and expiry.
type TURNOptions struct {
	// InVisit reports whether subject is in visit now; a credential whose
	// participant is not is refused (nil: not checked).
	InVisit func(visit, subject string) bool
	// Peers are addresses of this server beyond its interfaces' (a public
	// IP of a 1:1 NAT) that relayed media may be sent to.
	Peers []net.IP
}

// TURNServer is an embedded TURN server.
type TURNServer struct {
	srv  *turn.Server
	Addr string
}

// StartTURN runs a TURN server on a UDP address with an explicit IP (the
// relay address participants are given), accepting the credentials of
// creds. It relays only to this machine's own addresses (its interfaces'
// at start, the relay address and opts.Peers): the SFU is the only peer
// a participant has, and anything else would make the server a way into
// the networks it sits on.
func StartTURN(addr string, creds *TURNCredentials, opts TURNOptions) (*TURNServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil, errors.New("embedded turn: the address needs the IP participants reach it at")
	}
	own, err := ownAddresses(append([]net.IP{ip}, opts.Peers...))
	if err != nil {
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: turnRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			pass, g, ok := creds.check(ra.Username)
			if !ok || (opts.InVisit != nil && !opts.InVisit(g.visit, g.subject)) {
				return "", nil, false
			}
			return ra.Username, turn.GenerateAuthKey(ra.Username, turnRealm, pass), true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: ip, Address: host},
			PermissionHandler: func(_ net.Addr, peer net.IP) bool {
				_, ok := own[peer.String()]
				return ok
			}}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	return &TURNServer{srv: srv, Addr: conn.LocalAddr().String()}, nil
}

// ownAddresses is the set of this machine's interface addresses plus
// extra, as strings of their canonical form.
func ownAddresses(extra []net.IP) (map[string]struct{}, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	own := map[string]struct{}{}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			own[n.IP.String()] = struct{}{}
		}
	}
	for _, ip := range extra {
		own[ip.String()] = struct{}{}
	}
	return own, nil
}

// Close stops the server.
func (t *TURNServer) Close() error { return t.srv.Close() }
