// Package broker is the embedded MQTT broker (mochi-mqtt) for single-machine
// use: TCP and WebSocket listeners, device authentication against the
// registry, and the ACL of the MQTT contract: a device publishes only under
// its own id and subscribes only to its own rejects; the service account
// (for monitoring tools and other instances) reads the device topics and
// writes rejects.
//
// With the broker in the same process as the ingester, a device's readings
// go straight from the broker to the ingester (Handler), and the broker
// sends the device its PUBACK only once the readings are durable. That is
// stronger than a broker queue: if the process dies, the device still holds
// every unacknowledged message and sends it again.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/internal/netlimit"
	"github.com/vitalwire/vitalwire/topic"
)

// Authenticator checks device credentials (the device registry).
type Authenticator interface {
	// Authenticate checks a device's secret.
	Authenticate(device, secret string) bool
	// Active reports whether the device is registered and not revoked:
	// what a client certificate naming it still needs.
	Active(device string) bool
}

// Handler takes what devices publish, before the broker acknowledges it.
type Handler interface {
	// Readings returns once the message's readings are durable (or
	// refused); an error leaves the message unacknowledged.
	Readings(device string, payload []byte) error
	// Status takes a device's status message or its last will.
	Status(device string, payload []byte)
}

// Config of the embedded broker.
type Config struct {
	// Addr is the TCP listener, e.g. 127.0.0.1:1883.
	Addr string `yaml:"addr"`
	// WebSocketAddr, when set, adds an MQTT-over-WebSocket listener for
	// browser or phone gateways.
	WebSocketAddr string `yaml:"websocket_addr"`
	// TLS, when set, is used by both listeners.
	TLS *tls.Config `yaml:"-"`
	// ClientCAs, when set (with TLS), lets devices authenticate with a
	// client certificate these CAs signed, its common name the device id
	// (mutual TLS), as an alternative to their secret.
	ClientCAs *x509.CertPool `yaml:"-"`
	// ServiceUser and ServicePassword are the service account's credential.
	ServiceUser     string `yaml:"-"`
	ServicePassword string `yaml:"-"`
	// Handler, when set, receives readings and status synchronously.
	Handler Handler `yaml:"-"`
	// Limits bound connections and packets; the zero value means
	// DefaultLimits.
	Limits Limits `yaml:"limits"`
	// OnRefuse, when set, is told of every connection a limit refused
	// (listener "tcp" or "ws", the limit's setting name), e.g. to count it.
	OnRefuse func(listener, limit string) `yaml:"-"`
}

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	tcp *listeners.Net
}

// New builds and starts the broker's listeners.
func New(cfg Config, devices Authenticator, log zerolog.Logger) (*Broker, error) {
	// The inline client publishes refusal reports.
	if cfg.Addr == "" {
		return nil, errors.New("broker: addr is required")
	}
	if cfg.ServiceUser == "" || cfg.ServicePassword == "" {
		return nil, errors.New("broker: service credential is required")
	}
	if cfg.ClientCAs != nil {
		if cfg.TLS == nil {
			return nil, errors.New("broker: client certificates need TLS (a server certificate)")
		}
		t := cfg.TLS.Clone()
		// Asked for, not required: devices with a secret connect as before.
		t.ClientAuth, t.ClientCAs = tls.VerifyClientCertIfGiven, cfg.ClientCAs
		cfg.TLS = t
	}
	lim := cfg.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits()
	}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("broker limits: %w", err)
	}
	log = log.With().Str("component", "broker").Logger()
	caps := mqtt.NewDefaultServerCapabilities()
	// Devices receive little (their rejects): a short outbound queue per
	// connection keeps 10,000 connections from reserving gigabytes.
	caps.MaximumClientWritesPending = 256
	// Checked from each packet's fixed header, before mochi allocates its
	// buffer (the CONNECT, tighter, by connectGuard).
	caps.MaximumPacketSize = uint32(lim.MaxPacketBytes)
	// The contract is QoS 1: no QoS 2 state to hold, and a bounded window
	// of unacknowledged messages to a subscriber that stops acknowledging.
	caps.MaximumQos = 1
	caps.MaximumInflight = 1024
	caps.TopicAliasMaximum = 16
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true,
		Logger:       slog.New(&slogAdapter{log: log}),
	})
	hook := &accessHook{devices: devices, policy: NewPolicy(devices, cfg.ServiceUser, cfg.ServicePassword), handler: cfg.Handler,
		limits: lim, log: log}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	b := &Broker{srv: srv}
	refused := func(l string) func(netip.Addr, netlimit.Reason) {
		return func(src netip.Addr, why netlimit.Reason) {
			log.Debug().Str("listener", l).Str("remote_ip", src.String()).Str("limit", string(why)).Msg("connection refused")
			if cfg.OnRefuse != nil {
				cfg.OnRefuse(l, string(why))
			}
		}
	}
	ln, err := listen(cfg.Addr, cfg.TLS, lim, refused("tcp"))
	if err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", cfg.Addr, err)
	}
	b.tcp = listeners.NewNet("tcp", guardedListener{Listener: ln, limits: lim})
	if err := srv.AddListener(b.tcp); err != nil {
		ln.Close()
		return nil, fmt.Errorf("broker listen %s: %w", cfg.Addr, err)
	}
	if cfg.WebSocketAddr != "" {
		wln, err := listen(cfg.WebSocketAddr, cfg.TLS, lim, refused("ws"))
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("broker listen %s: %w", cfg.WebSocketAddr, err)
		}
		if err := srv.AddListener(newWSListener("ws", wln, lim, cfg.TLS != nil)); err != nil {
			ln.Close()
			wln.Close()
			return nil, fmt.Errorf("broker listen %s: %w", cfg.WebSocketAddr, err)
		}
	}
	return b, nil
}

// Addr returns the TCP listener's address (useful with port 0).
func (b *Broker) Addr() string { return b.tcp.Address() }

// Run serves until ctx ends, then closes every connection.
func (b *Broker) Run(ctx context.Context) error {
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker serve: %w", err)
	}
	<-ctx.Done()
	return b.srv.Close()
}

// ConnectedClients returns how many clients are connected.
func (b *Broker) ConnectedClients() int64 { return b.srv.Info.ClientsConnected }

// DisconnectDevice closes a device's connection (after revocation).
func (b *Broker) DisconnectDevice(id string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if string(cl.Properties.Username) == id {
			b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
}

// Reject publishes a refusal report on the device's rejects topic (QoS 0).
func (b *Broker) Reject(device string, payload []byte) {
	b.srv.Publish(topic.Rejects(device), payload, false, 0)
}

type accessHook struct {
	mqtt.HookBase
	devices Authenticator
	policy  *Policy
	handler Handler
	limits  Limits
	log     zerolog.Logger
}

func (h *accessHook) ID() string { return "vitalwire-access" }

func (h *accessHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish:
		return true
	case mqtt.OnWillSent:
		return h.handler != nil
	}
	return false
}

// OnConnect holds every client to at most MaxKeepAlive, so a silent
// connection ends (MQTT 5 clients are told in the CONNACK; older ones are
// cut off after 1.5 times it without a packet, as the spec says).
func (h *accessHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	max := uint16(h.limits.MaxKeepAlive / time.Second)
	if cl.State.Keepalive == 0 || cl.State.Keepalive > max {
		cl.State.Keepalive = max
		cl.State.ServerKeepalive = true
	}
	return nil
}

// OnPublish runs after the ACL check and before the broker acknowledges the
// message, so a device's publish is its own topic and holding the return
// holds the PUBACK. Only a device's status is retained, and only up to
// MaxStatusBytes: a larger one is acknowledged and dropped.
func (h *accessHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	user := string(cl.Properties.Username)
	_, kind, _ := topic.Parse(pk.TopicName)
	if kind != topic.KindStatus {
		pk.FixedHeader.Retain = false
	} else if len(pk.Payload) > h.limits.MaxStatusBytes {
		h.log.Warn().Str("device", user).Int("bytes", len(pk.Payload)).Int("max_status_bytes", h.limits.MaxStatusBytes).Msg("status message too large; dropped")
		return pk, packets.CodeSuccessIgnore
	}
	if h.handler == nil {
		return pk, nil
	}
	switch pk.TopicName {
	case topic.Readings(user):
		if err := h.handler.Readings(user, pk.Payload); err != nil {
			// No PUBACK: the device keeps the message and sends it again.
			return pk, packets.ErrRejectPacket
		}
	case topic.Status(user):
		h.handler.Status(user, pk.Payload)
	}
	return pk, nil
}

func (h *accessHook) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	user := string(cl.Properties.Username)
	if pk.TopicName == topic.Status(user) {
		h.handler.Status(user, pk.Payload)
	}
}

// OnConnectAuthenticate runs before mochi looks for an existing session of
// the client id, so a refusal here takes nothing over. A device's client
// id is its own id: another device's would disconnect that device, fire its
// last will and take its session. The service account (monitoring tools,
// other instances) chooses its client ids. A refusal is logged with the
// source address, never with the password.
func (h *accessHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := pk.Connect.Username
	why := h.refusal(cl, pk)
	if why == "" {
		return true
	}
	ev := h.log.Warn().Str("remote_ip", remoteIP(cl.Net.Remote)).Str("listener", cl.Net.Listener).Str("reason", why)
	if devices.ValidID(string(user)) {
		ev = ev.Str("device", string(user))
	}
	ev.Msg("mqtt authentication refused")
	return false
}

func (h *accessHook) refusal(cl *mqtt.Client, pk packets.Packet) string {
	user := string(pk.Connect.Username)
	if cert := peerCertificate(cl.Net.Conn); cert != nil {
		return h.certRefusal(cl, pk, cert)
	}
	if user != "" && !h.policy.IsService(user) {
		if why := h.deviceConnect(pk, user); why != "" {
			return why // before the secret's hash is paid
		}
	}
	return h.policy.Login(user, string(pk.Connect.Password), pk.Connect.ClientIdentifier)
}

// deviceConnect checks what a device's CONNECT says beyond its
// credentials: its client id is its own id, and its last will may only
// speak for the device itself and say no more than a status message.
func (h *accessHook) deviceConnect(pk packets.Packet, id string) string {
	if pk.Connect.ClientIdentifier != id {
		return "client id is not the device id"
	}
	if pk.Connect.WillFlag && pk.Connect.WillTopic != topic.Status(id) {
		return "last will outside the device's status topic"
	}
	if pk.Connect.WillFlag && len(pk.Connect.WillPayload) > h.limits.MaxStatusBytes {
		return "last will larger than max_status_bytes"
	}
	return ""
}

// certRefusal decides a connection that presented a client certificate
// the client CAs verified: the certificate names the device (its common
// name), and the connection is that device and no other, whatever
// username or password it also sends; the device must be registered and
// not revoked. An accepted connection's username becomes the device id,
// which the ACL and the hand-off to the ingester go by.
func (h *accessHook) certRefusal(cl *mqtt.Client, pk packets.Packet, cert *x509.Certificate) string {
	id := cert.Subject.CommonName
	user := string(pk.Connect.Username)
	switch {
	case !devices.ValidID(id) || h.policy.IsService(id):
		return "certificate common name is not a device id"
	case user != "" && user != id:
		return "username is not the certificate's device"
	}
	if why := h.deviceConnect(pk, id); why != "" {
		return why
	}
	if !h.devices.Active(id) {
		return "certificate of a device not registered or revoked"
	}
	cl.Properties.Username = []byte(id)
	return ""
}

// peerCertificate is the verified client certificate of a connection (TLS
// under the connect guard, or under MQTT over WebSocket), or nil.
func peerCertificate(c net.Conn) *x509.Certificate {
	for c != nil {
		if tc, ok := c.(*tls.Conn); ok {
			if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 {
				return st.VerifiedChains[0][0]
			}
			return nil
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// OnACLCheck is the policy's: see Policy.Allow.
func (h *accessHook) OnACLCheck(cl *mqtt.Client, t string, write bool) bool {
	return h.policy.Allow(string(cl.Properties.Username), t, write)
}

// slogAdapter routes mochi's slog output into zerolog at warn and above.
// mochi hands it whole packets (a refused PUBLISH with its payload, a
// CONNECT with its password): a packet is logged as its type and size, a
// byte slice as its length, and any other value that is not a plain
// string, number or error is left out. A record without a message (a
// listener reporting a connection that ended) is routine, and debug.
type slogAdapter struct {
	log   zerolog.Logger
	attrs []slog.Attr
}

func (a *slogAdapter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (a *slogAdapter) Handle(_ context.Context, r slog.Record) error {
	ev := a.log.Warn()
	switch {
	case r.Message == "":
		ev = a.log.Debug()
	case r.Level >= slog.LevelError:
		ev = a.log.Error()
	}
	if ev == nil {
		return nil
	}
	add := func(at slog.Attr) bool {
		ev = logAttr(ev, at)
		return true
	}
	for _, at := range a.attrs {
		add(at)
	}
	r.Attrs(add)
	msg := r.Message
	if msg == "" {
		msg = "connection ended"
	}
	ev.Msg(msg)
	return nil
}

func logAttr(ev *zerolog.Event, at slog.Attr) *zerolog.Event {
	v := at.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return ev.Str(at.Key, v.String())
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool, slog.KindDuration, slog.KindTime:
		return ev.Str(at.Key, v.String())
	case slog.KindAny:
		switch x := v.Any().(type) {
		case packets.Packet:
			return ev.Str(at.Key+"_type", packets.PacketNames[x.FixedHeader.Type]).Int(at.Key+"_payload_bytes", len(x.Payload))
		case *packets.Packet:
			return ev.Str(at.Key+"_type", packets.PacketNames[x.FixedHeader.Type]).Int(at.Key+"_payload_bytes", len(x.Payload))
		case []byte:
			return ev.Int(at.Key+"_bytes", len(x))
		case error:
			return ev.Str(at.Key, x.Error())
		}
	}
	return ev
}

func (a *slogAdapter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &slogAdapter{log: a.log, attrs: append(append([]slog.Attr{}, a.attrs...), attrs...)}
}

func (a *slogAdapter) WithGroup(string) slog.Handler { return a }
