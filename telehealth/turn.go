package telehealth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// TURN for participants whom no direct path reaches (symmetric NATs,
// networks that allow only relayed UDP). Credentials are short-lived and
// per participant, in the TURN REST API form that coturn's
// use-auth-secret also accepts: the username is "expiry:subject" and the
// password the base64 HMAC-SHA1 of the username under a shared secret.
// No static TURN password is ever sent to a browser.

const turnRealm = "vitalwire"

// TURNCredentials issues ephemeral TURN credentials for a set of URLs.
type TURNCredentials struct {
	URLs   []string
	secret []byte
	ttl    time.Duration
}

// NewTURNCredentials returns an issuer for urls with secret (empty: a
// random secret, for the embedded server), valid for ttl.
func NewTURNCredentials(urls []string, secret string, ttl time.Duration) *TURNCredentials {
	key := []byte(secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key)
	}
	return &TURNCredentials{URLs: urls, secret: key, ttl: ttl}
}

// For returns an ICE server entry for subject.
func (c *TURNCredentials) For(subject string) webrtc.ICEServer {
	user := strconv.FormatInt(time.Now().Add(c.ttl).Unix(), 10) + ":" + subject
	return webrtc.ICEServer{URLs: c.URLs, Username: user, Credential: c.password(user)}
}

func (c *TURNCredentials) password(user string) string {
	m := hmac.New(sha1.New, c.secret)
	m.Write([]byte(user))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// check validates a username (not expired) and returns its password.
func (c *TURNCredentials) check(user string) (string, bool) {
	exp, _, ok := strings.Cut(user, ":")
	if !ok {
		return "", false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > t {
		return "", false
	}
	return c.password(user), true
}

// TURNServer is an embedded TURN server.
type TURNServer struct {
	srv  *turn.Server
	Addr string
}

// StartTURN runs a TURN server on a UDP address with an explicit IP (the
// relay address participants are given), accepting the credentials of
// creds.
func StartTURN(addr string, creds *TURNCredentials) (*TURNServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil, errors.New("embedded turn: the address needs the IP participants reach it at")
	}
	conn, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: turnRealm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			pass, ok := creds.check(ra.Username)
			if !ok {
				return "", nil, false
			}
			return ra.Username, turn.GenerateAuthKey(ra.Username, turnRealm, pass), true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: ip, Address: host}}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("embedded turn: %w", err)
	}
	return &TURNServer{srv: srv, Addr: conn.LocalAddr().String()}, nil
}

// Close stops the server.
func (t *TURNServer) Close() error { return t.srv.Close() }
