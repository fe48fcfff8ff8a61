package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/devices"
)

// An external broker (EMQX's HTTP authenticator and authorizer, a
// Mosquitto auth plugin's HTTP backend) asks Vitalwire who may connect and
// what each may publish or read, instead of reading password and ACL
// files regenerated at every change:
//
//	POST /api/v1/broker/auth  {"username","password","clientid"}
//	POST /api/v1/broker/acl   {"username","clientid","topic","action":"publish"|"subscribe"} (EMQX)
//	                          or "acc": 1 read, 2 write, 3 both, 4 subscribe (mosquitto-go-auth)
//
// as JSON or as a form, and gets 200 {"result":"allow"|"deny",
// "is_superuser":false,"ok":true|false} (EMQX reads result; the plugin's
// JSON response mode reads ok). The broker proves itself with the shared
// secret of broker_auth.secret_file (Authorization: Bearer SECRET); the
// answers are the embedded broker's own rules (ingest/broker.Policy) over
// the device registry, so a revoked device is refused at its next
// connection.

// BrokerPolicy decides logins and topics (ingest/broker.Policy).
type BrokerPolicy interface {
	// Login returns "" for an allowed connection, else why not.
	Login(user, password, clientID string) string
	// Allow decides a publish (write) or a subscription (read).
	Allow(user, topic string, write bool) bool
}

// BrokerAuthConfig is the broker-auth endpoint's section.
type BrokerAuthConfig struct {
	// SecretFile holds the shared secret the broker sends (at least 32
	// characters; mode 0600). Empty: the endpoint is off (404).
	SecretFile string `yaml:"secret_file"`
	// PerSecond and Burst limit the calls from one address: a broker
	// asks once a connection and once a topic (it caches the answers).
	PerSecond int `yaml:"per_second"`
	Burst     int `yaml:"burst"`
}

// DefaultBrokerAuthConfig: off; 500 calls a second from an address after
// a burst of 1,000 (a fleet of 10,000 devices reconnecting at once gets
// through in some 20 s).
func DefaultBrokerAuthConfig() BrokerAuthConfig { return BrokerAuthConfig{PerSecond: 500, Burst: 1000} }

// Validate reports settings that cannot work, each naming its field.
func (c BrokerAuthConfig) Validate() error {
	var errs []error
	if c.PerSecond < 1 || c.PerSecond > 1_000_000 {
		errs = append(errs, errors.New("per_second: 1-1000000"))
	}
	if c.Burst < 1 || c.Burst > 1_000_000 {
		errs = append(errs, errors.New("burst: 1-1000000"))
	}
	return errors.Join(errs...)
}

// maxBrokerAuthBody bounds a broker-auth request: a few short fields.
const maxBrokerAuthBody = 16 << 10

type brokerAuthAPI struct {
	policy BrokerPolicy
	secret [32]byte // SHA-256 of the shared secret
	limit  *auth.Limiter
	log    zerolog.Logger
}

// BrokerAuthAnswer is the broker-auth endpoint's answer.
type BrokerAuthAnswer struct {
	Result      string `json:"result"` // allow or deny
	IsSuperuser bool   `json:"is_superuser"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
}

// brokerRequest is the fields of both calls.
type brokerRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	ClientID string `json:"clientid"`
	Topic    string `json:"topic"`
	Action   string `json:"action"`
	Acc      int    `json:"acc"`
}

// admit rate limits the caller, checks the shared secret and reads the
// request; on failure it has answered.
func (a brokerAuthAPI) admit(w http.ResponseWriter, r *http.Request) (brokerRequest, bool) {
	var req brokerRequest
	if a.policy == nil {
		http.NotFound(w, r)
		return req, false
	}
	if ok, retry := a.limit.Allow(auth.SourceKey(clientAddr(r))); !ok {
		tooMany(w, retry, "too many broker-auth calls from this address (broker_auth.per_second)")
		return req, false
	}
	tok, err := auth.BearerToken(r)
	sum := sha256.Sum256([]byte(tok))
	if err != nil || subtle.ConstantTimeCompare(sum[:], a.secret[:]) != 1 {
		a.log.Warn().Str("remote_ip", clientAddr(r)).Msg("broker-auth call without the shared secret refused")
		fail(w, http.StatusUnauthorized, "the broker's shared secret is required (Authorization: Bearer)")
		return req, false
	}
	body := http.MaxBytesReader(w, r.Body, maxBrokerAuthBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, "invalid JSON body")
			return req, false
		}
	case "application/x-www-form-urlencoded":
		r.Body = body
		if err := r.ParseForm(); err != nil {
			fail(w, http.StatusBadRequest, "invalid form body")
			return req, false
		}
		f := r.PostForm
		req = brokerRequest{Username: f.Get("username"), Password: f.Get("password"), ClientID: f.Get("clientid"),
			Topic: f.Get("topic"), Action: f.Get("action")}
		if s := f.Get("acc"); s != "" {
			if req.Acc, err = strconv.Atoi(s); err != nil {
				fail(w, http.StatusBadRequest, "acc: 1, 2, 3 or 4")
				return req, false
			}
		}
	default:
		fail(w, http.StatusUnsupportedMediaType, "send JSON or a form")
		return req, false
	}
	return req, true
}

func (a brokerAuthAPI) answer(w http.ResponseWriter, why string) {
	if why == "" {
		writeJSON(w, http.StatusOK, BrokerAuthAnswer{Result: "allow", OK: true})
		return
	}
	writeJSON(w, http.StatusOK, BrokerAuthAnswer{Result: "deny", Error: why})
}

// authenticate answers whether a connection may log in.
func (a brokerAuthAPI) authenticate(w http.ResponseWriter, r *http.Request) {
	req, ok := a.admit(w, r)
	if !ok {
		return
	}
	why := a.policy.Login(req.Username, req.Password, req.ClientID)
	if why != "" {
		ev := a.log.Info().Str("reason", why).Str("remote_ip", clientAddr(r))
		if devices.ValidID(req.Username) {
			ev = ev.Str("device", req.Username)
		}
		ev.Msg("broker login refused")
	}
	a.answer(w, why)
}

// authorize answers whether a client may publish to or read a topic.
func (a brokerAuthAPI) authorize(w http.ResponseWriter, r *http.Request) {
	req, ok := a.admit(w, r)
	if !ok {
		return
	}
	var read, write bool
	switch {
	case req.Action == "publish" || req.Acc == 2:
		write = true
	case req.Action == "subscribe" || req.Acc == 1 || req.Acc == 4:
		read = true
	case req.Action == "all" || req.Acc == 3:
		read, write = true, true
	default:
		fail(w, http.StatusBadRequest, `action: publish or subscribe (or acc: 1, 2, 3 or 4)`)
		return
	}
	// A client id that is not the username is refused at login; here the
	// username decides, as in the embedded broker.
	allowed := req.Username != "" && strings.TrimSpace(req.Topic) != "" &&
		(!write || a.policy.Allow(req.Username, req.Topic, true)) &&
		(!read || a.policy.Allow(req.Username, req.Topic, false))
	why := ""
	if !allowed {
		why = "topic not allowed for this client"
	}
	a.answer(w, why)
}
