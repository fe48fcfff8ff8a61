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
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/topic"
)

// Authenticator checks device credentials (the device registry).
type Authenticator interface {
	Authenticate(device, secret string) bool
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
	// ServiceUser and ServicePassword are the service account's credential.
	ServiceUser     string `yaml:"-"`
	ServicePassword string `yaml:"-"`
	// Handler, when set, receives readings and status synchronously.
	Handler Handler `yaml:"-"`
}

// Broker is a running embedded broker.
type Broker struct {
	srv *mqtt.Server
	tcp *listeners.TCP
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
	log = log.With().Str("component", "broker").Logger()
	caps := mqtt.NewDefaultServerCapabilities()
	// Devices receive little (their rejects): a short outbound queue per
	// connection keeps 10,000 connections from reserving gigabytes.
	caps.MaximumClientWritesPending = 256
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		InlineClient: true,
		Logger:       slog.New(&slogAdapter{log: log}),
	})
	sum := sha256.Sum256([]byte(cfg.ServicePassword))
	if err := srv.AddHook(&accessHook{devices: devices, handler: cfg.Handler, serviceUser: []byte(cfg.ServiceUser), serviceSum: sum}, nil); err != nil {
		return nil, fmt.Errorf("broker hook: %w", err)
	}
	b := &Broker{srv: srv}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr, TLSConfig: cfg.TLS})
	if err := srv.AddListener(b.tcp); err != nil {
		return nil, fmt.Errorf("broker listen %s: %w", cfg.Addr, err)
	}
	if cfg.WebSocketAddr != "" {
		ws := listeners.NewWebsocket(listeners.Config{ID: "ws", Address: cfg.WebSocketAddr, TLSConfig: cfg.TLS})
		if err := srv.AddListener(ws); err != nil {
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
	devices     Authenticator
	handler     Handler
	serviceUser []byte
	serviceSum  [32]byte
}

func (h *accessHook) ID() string { return "vitalwire-access" }

func (h *accessHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck:
		return true
	case mqtt.OnPublish, mqtt.OnWillSent:
		return h.handler != nil
	}
	return false
}

// OnPublish runs after the ACL check and before the broker acknowledges the
// message, so a device's publish is its own topic and holding the return
// holds the PUBACK.
func (h *accessHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	user := string(cl.Properties.Username)
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

func (h *accessHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := pk.Connect.Username, pk.Connect.Password
	if len(user) == 0 {
		return false
	}
	if bytes.Equal(user, h.serviceUser) {
		sum := sha256.Sum256(pass)
		return subtle.ConstantTimeCompare(sum[:], h.serviceSum[:]) == 1
	}
	// A device's last will may only speak for the device itself.
	if pk.Connect.WillFlag && pk.Connect.WillTopic != topic.Status(string(user)) {
		return false
	}
	return h.devices.Authenticate(string(user), string(pass))
}

// OnACLCheck: the service account writes only rejects and reads device
// topics (plain or through a shared subscription); a device writes only its
// own readings and status and reads only its own rejects.
func (h *accessHook) OnACLCheck(cl *mqtt.Client, t string, write bool) bool {
	user := string(cl.Properties.Username)
	if user == string(h.serviceUser) {
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

// slogAdapter routes mochi's slog output into zerolog at warn and above.
type slogAdapter struct {
	log   zerolog.Logger
	attrs []slog.Attr
}

func (a *slogAdapter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (a *slogAdapter) Handle(_ context.Context, r slog.Record) error {
	ev := a.log.Warn()
	if r.Level >= slog.LevelError {
		ev = a.log.Error()
	}
	add := func(at slog.Attr) bool {
		// Client ids are device ids; payloads are never logged by mochi at
		// these levels.
		ev = ev.Str(at.Key, at.Value.String())
		return true
	}
	for _, at := range a.attrs {
		add(at)
	}
	r.Attrs(add)
	ev.Msg(r.Message)
	return nil
}

func (a *slogAdapter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &slogAdapter{log: a.log, attrs: append(append([]slog.Attr{}, a.attrs...), attrs...)}
}

func (a *slogAdapter) WithGroup(string) slog.Handler { return a }
