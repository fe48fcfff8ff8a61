package ingest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/topic"
)

// MQTTConfig says how the ingester reaches the broker.
type MQTTConfig struct {
	// Broker is the URL: tcp://host:1883, ssl://host:8883, ws://...
	Broker   string `yaml:"broker"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// ClientID is the base of the persistent session ids; connection i
	// uses ClientID-i. Keep it stable: the broker keeps the queued messages
	// of a session under its id while the ingester is down.
	ClientID string `yaml:"client_id"`
	// Connections is how many subscriber connections this instance opens
	// (default 1). More than one, or Shared, subscribes through the shared
	// subscription $share/<SharedGroup>/..., so that the broker spreads
	// messages over them, and over other instances in the same group.
	Connections int           `yaml:"connections"`
	Shared      bool          `yaml:"shared"`
	SharedGroup string        `yaml:"shared_group"`
	KeepAlive   time.Duration `yaml:"keep_alive"`
	// AllowPlaintext permits tcp:// and ws:// to a broker that is not on
	// loopback: readings and the ingester's password cross the network in
	// the clear, so only where something else protects that path (an
	// IPsec or WireGuard link). Off by default.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// TLS, when set, is used for ssl:// and wss:// brokers.
	TLS *tls.Config `yaml:"-"`
}

// StatusHandler receives device status messages (retained, and last wills).
type StatusHandler interface {
	SetStatus(device string, online bool, battery *float64, firmware string, t time.Time)
}

// Consumer subscribes to the device topics and feeds the ingester.
type Consumer struct {
	cfg     MQTTConfig
	in      *Ingester
	status  StatusHandler
	log     zerolog.Logger
	clients []mqtt.Client
	ctx     context.Context
	stop    context.CancelFunc
	mu      sync.Mutex
	// subscribed counts connections whose subscription the broker has
	// acknowledged (and that have not lost it since).
	subscribed atomic.Int32
}

// Subscribed reports whether at least one connection holds the device
// subscription: until then, devices' messages may go unheard.
func (c *Consumer) Subscribed() bool { return c.subscribed.Load() > 0 }

// NewConsumer builds a consumer; Run connects it.
func NewConsumer(cfg MQTTConfig, in *Ingester, status StatusHandler, log zerolog.Logger) (*Consumer, error) {
	if cfg.Broker == "" {
		return nil, errors.New("mqtt: broker is required")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "vitalwire-ingest"
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 1
	}
	if cfg.SharedGroup == "" {
		cfg.SharedGroup = "vitalwire"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Consumer{cfg: cfg, in: in, status: status, log: log.With().Str("component", "mqtt").Logger(), ctx: ctx, stop: stop}, nil
}

func (c *Consumer) topics() map[string]byte {
	readings := topic.ReadingsFilter
	if c.cfg.Shared || c.cfg.Connections > 1 {
		readings = topic.Shared(c.cfg.SharedGroup, readings)
	}
	// Status is read by every connection of every instance: it is small,
	// and each needs the retained state.
	return map[string]byte{readings: 1, topic.StatusFilter: 1}
}

// Run connects every subscriber connection and keeps them until ctx ends;
// then it drains the ingester (so in-flight messages get their acks) and
// disconnects. Reconnection and resubscription are paho's: the connect
// handler subscribes again on every (re)connect.
func (c *Consumer) Run(ctx context.Context) error {
	var connecting sync.WaitGroup
	for i := 0; i < c.cfg.Connections; i++ {
		id := c.cfg.ClientID
		if c.cfg.Connections > 1 {
			id = fmt.Sprintf("%s-%d", id, i)
		}
		sub := &atomic.Bool{} // this connection holds the subscription
		opts := mqtt.NewClientOptions().
			AddBroker(c.cfg.Broker).
			SetClientID(id).
			SetUsername(c.cfg.Username).
			SetPassword(c.cfg.Password).
			SetCleanSession(false).
			SetAutoReconnect(true).
			SetConnectTimeout(10 * time.Second).
			SetMaxReconnectInterval(5 * time.Second).
			SetKeepAlive(c.cfg.KeepAlive).
			SetOrderMatters(false).
			SetAutoAckDisabled(true).
			SetCustomOpenConnectionFn(openBuffered).
			SetDefaultPublishHandler(c.onMessage).
			SetOnConnectHandler(func(cl mqtt.Client) { c.onConnect(cl, sub) }).
			SetConnectionLostHandler(func(_ mqtt.Client, err error) {
				if sub.Swap(false) {
					c.subscribed.Add(-1)
				}
				c.in.deps.Metrics.Connected.Dec()
				c.log.Warn().Err(err).Str("client_id", id).Msg("broker connection lost; reconnecting")
			})
		if c.cfg.TLS != nil {
			opts.SetTLSConfig(c.cfg.TLS)
		}
		cl := mqtt.NewClient(opts)
		c.mu.Lock()
		c.clients = append(c.clients, cl)
		c.mu.Unlock()
		connecting.Go(func() { c.connect(cl, id) })
	}
	<-ctx.Done()
	c.stop()
	connecting.Wait()
	dctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.in.Drain(dctx)
	for _, cl := range c.clients {
		cl.Disconnect(500)
	}
	if err != nil {
		c.log.Warn().Err(err).Msg("stopped with messages unacknowledged; the broker will redeliver them")
	}
	return nil
}

// connect makes a connection's first contact with the broker, trying
// again 1 s, then up to 5 s, apart until it succeeds or the consumer
// stops; from then on paho reconnects. Each failure is logged with its
// reason (a wrong password, a refused or unreachable address: paho's own
// retry keeps those to itself), at warn the first time and once a minute,
// never with the credentials.
func (c *Consumer) connect(cl mqtt.Client, id string) {
	wait := time.Second
	for failures := 0; ; failures++ {
		tok := cl.Connect()
		select {
		case <-tok.Done():
		case <-c.ctx.Done():
			tok.WaitTimeout(15 * time.Second) // the connect timeout bounds it
			return
		}
		if tok.Error() == nil {
			return
		}
		ev := c.log.Debug()
		if failures%12 == 0 {
			ev = c.log.Warn()
		}
		ev.Err(tok.Error()).Str("client_id", id).Int("failures", failures+1).Msg("cannot connect to the broker; trying again")
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (c *Consumer) onConnect(cl mqtt.Client, sub *atomic.Bool) {
	c.in.deps.Metrics.Connected.Inc()
	tok := cl.SubscribeMultiple(c.topics(), nil)
	go func() {
		// Never block paho's connect handler; report the outcome instead.
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			c.log.Error().Err(tok.Error()).Msg("subscribe failed; reconnecting")
			cl.Disconnect(0)
			return
		}
		if !sub.Swap(true) {
			c.subscribed.Add(1)
		}
		c.log.Info().Msg("subscribed to device topics")
	}()
}

func (c *Consumer) onMessage(cl mqtt.Client, m mqtt.Message) {
	device, kind, ok := topic.Parse(m.Topic())
	if !ok {
		m.Ack()
		return
	}
	switch kind {
	case topic.KindReadings:
		if c.ctx.Err() != nil {
			return // stopping: leave it unacknowledged for the next session
		}
		err := c.in.Submit(c.ctx, Delivery{Device: device, Payload: m.Payload(), Received: c.in.deps.Now(), Ack: m.Ack})
		if err != nil {
			return
		}
	case topic.KindStatus:
		c.onStatus(device, m.Payload())
		m.Ack()
	default:
		m.Ack()
	}
}

// DeviceStatus is the JSON of a device's retained status message and its
// last will.
type DeviceStatus struct {
	Online   bool     `json:"online"`
	Battery  *float64 `json:"battery,omitempty"` // 0..1
	Firmware string   `json:"firmware,omitempty"`
}

func (c *Consumer) onStatus(device string, payload []byte) {
	if c.status != nil {
		ApplyStatus(c.status, device, payload)
	}
}

// ApplyStatus parses a device status message and records it; malformed or
// oversized status messages are ignored (status is advisory).
func ApplyStatus(h StatusHandler, device string, payload []byte) {
	if len(payload) == 0 || len(payload) > 4096 {
		return
	}
	var st DeviceStatus
	if err := json.Unmarshal(payload, &st); err != nil {
		return
	}
	if st.Battery != nil && (*st.Battery < 0 || *st.Battery > 1) {
		st.Battery = nil
	}
	h.SetStatus(device, st.Online, st.Battery, st.Firmware, time.Now())
}

// Reject implements Rejecter: it publishes a refusal report on the device's
// rejects topic, at QoS 0 (a report is advice; it must not hold up ingest).
func (c *Consumer) Reject(device string, payload []byte) {
	c.mu.Lock()
	var cl mqtt.Client
	if len(c.clients) > 0 {
		cl = c.clients[0]
	}
	c.mu.Unlock()
	if cl == nil || !cl.IsConnectionOpen() {
		return
	}
	cl.Publish(topic.Rejects(device), 0, false, payload)
}

// Validate checks the settings of the connection to an external broker.
func (c MQTTConfig) Validate() error {
	var errs []error
	if c.Broker == "" {
		errs = append(errs, errors.New("broker: is required when broker.embedded is false"))
	}
	if c.Connections < 0 || c.Connections > 64 {
		errs = append(errs, errors.New("connections: must be 1-64"))
	}
	if c.Broker != "" {
		if err := checkBrokerURL(c.Broker, c.AllowPlaintext); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkBrokerURL refuses a broker URL that paho cannot use, and one
// without TLS to a host that is not loopback unless allowed.
func checkBrokerURL(broker string, allowPlaintext bool) error {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return errors.New("broker: must be a URL such as ssl://host:8883 or tcp://127.0.0.1:1883")
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "wss":
		return nil
	case "tcp", "mqtt", "ws":
	default:
		return fmt.Errorf("broker: scheme %q: must be ssl, tls, mqtts, wss, or (plaintext) tcp, mqtt, ws", u.Scheme)
	}
	if allowPlaintext || isLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("broker: %s is plaintext to a host that is not loopback: readings and the ingester's password would cross the network in the clear; use ssl:// (or wss://), or set allow_plaintext: true where another layer protects the link",
		u.Redacted())
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
