package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/ingest/broker"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

const (
	prefix      = "vitalwire/v1/devices/"
	serviceUser = "vitalwire-ingest"
	servicePass = "service-secret"
	// wait bounds every wait for something that must happen.
	wait = 10 * time.Second
	// early is how long a test watches for a PUBACK that must not come
	// yet; an early one comes over loopback in microseconds.
	early = 300 * time.Millisecond
)

type message struct{ device, payload string }

// handler is the ingester's side of the broker. onReadings, when set, runs
// first and may hold the message or refuse it.
type handler struct {
	onReadings func(device string, payload []byte) error

	mu       sync.Mutex
	readings []message
	statuses chan message
}

func newHandler() *handler { return &handler{statuses: make(chan message, 64)} }

func (h *handler) Readings(device string, payload []byte) error {
	if h.onReadings != nil {
		if err := h.onReadings(device, payload); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readings = append(h.readings, message{device, string(payload)})
	return nil
}

func (h *handler) Status(device string, payload []byte) {
	h.statuses <- message{device, string(payload)}
}

func (h *handler) taken() []message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]message(nil), h.readings...)
}

var _ broker.Handler = (*handler)(nil)

// fixture is a running broker with two registered devices.
type fixture struct {
	b       *broker.Broker
	reg     *devices.Registry
	h       *handler
	secrets map[string]string
}

func start(t *testing.T, h *handler) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	reg, err := devices.Open(ctx, db)
	require.NoError(t, err)
	f := &fixture{reg: reg, h: h, secrets: map[string]string{}}
	for _, id := range []string{"watch-1", "watch-2"} {
		f.secrets[id], err = reg.Add(ctx, id, "watch")
		require.NoError(t, err)
	}

	f.b, err = broker.New(broker.Config{
		Addr: "127.0.0.1:0", ServiceUser: serviceUser, ServicePassword: servicePass, Handler: h,
	}, reg, zerolog.Nop())
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.b.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return f
}

// dial connects a paho client (MQTT 3.1.1, no retries) and returns the
// client with the connect token's error.
func (f *fixture) dial(t *testing.T, clientID, user, pass string, opts ...func(*mqtt.ClientOptions)) (mqtt.Client, error) {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + f.b.Addr()).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetProtocolVersion(4).
		SetConnectRetry(false).SetAutoReconnect(false).SetConnectTimeout(wait)
	for _, opt := range opts {
		opt(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(wait), "connect timed out")
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

func (f *fixture) device(t *testing.T, id string, opts ...func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	c, err := f.dial(t, id, id, f.secrets[id], opts...)
	require.NoError(t, err)
	return c
}

func (f *fixture) service(t *testing.T) mqtt.Client {
	t.Helper()
	c, err := f.dial(t, "ingest-1", serviceUser, servicePass)
	require.NoError(t, err)
	return c
}

func requireDone(t *testing.T, tok mqtt.Token) {
	t.Helper()
	require.True(t, tok.WaitTimeout(wait), "no answer from the broker")
	require.NoError(t, tok.Error())
}

// publish sends a QoS 1 message and waits for its PUBACK.
func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	requireDone(t, c.Publish(topic, 1, false, payload))
}

func subscribe(t *testing.T, c mqtt.Client, filter string, got chan<- message) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- message{m.Topic(), string(m.Payload())} })
	requireDone(t, tok)
	// One filter, one return code (paho keys a shared one without its
	// $share/group/ prefix).
	result := tok.(*mqtt.SubscribeToken).Result()
	require.Len(t, result, 1)
	for _, code := range result {
		return code
	}
	return 0
}

func receive(t *testing.T, got <-chan message) message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(wait):
		t.Fatal("nothing arrived")
		return message{}
	}
}

// refused is the SUBACK return code of a refused subscription in MQTT 3.1.1.
const refused = 0x80

func TestNewNamesWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  broker.Config
		want string
	}{
		{"a broker without an address is refused", broker.Config{ServiceUser: "s", ServicePassword: "p"}, "addr"},
		{"a broker without a service user is refused", broker.Config{Addr: "127.0.0.1:0", ServicePassword: "p"}, "service"},
		{"a broker without a service password is refused", broker.Config{Addr: "127.0.0.1:0", ServiceUser: "s"}, "service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := broker.New(tc.cfg, nil, zerolog.Nop())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConnect(t *testing.T) {
	f := start(t, newHandler())
	require.NoError(t, f.reg.Revoke(context.Background(), "watch-2"))

	for _, tc := range []struct {
		name       string
		user, pass string
		clientID   string // the user's when empty
		opts       []func(*mqtt.ClientOptions)
		ok         bool
	}{
		{name: "a device with its secret connects", user: "watch-1", pass: f.secrets["watch-1"], ok: true},
		{name: "a device with a last will on its own status connects", user: "watch-1", pass: f.secrets["watch-1"], ok: true,
			opts: []func(*mqtt.ClientOptions){func(o *mqtt.ClientOptions) { o.SetWill(prefix+"watch-1/status", `{"online":false}`, 1, true) }}},
		{name: "the service account connects under a client id of its choice", user: serviceUser, pass: servicePass, clientID: "ingest-7", ok: true},
		{name: "another device's client id is refused", user: "watch-1", pass: f.secrets["watch-1"], clientID: "watch-2"},
		{name: "a client id that only starts with the device id is refused", user: "watch-1", pass: f.secrets["watch-1"], clientID: "watch-1-phone"},
		{name: "a last will larger than a status message is refused", user: "watch-1", pass: f.secrets["watch-1"],
			opts: []func(*mqtt.ClientOptions){func(o *mqtt.ClientOptions) {
				o.SetWill(prefix+"watch-1/status", strings.Repeat("x", broker.DefaultLimits().MaxStatusBytes+1), 1, true)
			}}},
		{name: "a wrong secret is refused", user: "watch-1", pass: f.secrets["watch-1"] + "x"},
		{name: "another device's secret is refused", user: "watch-1", pass: f.secrets["watch-2"]},
		{name: "an unknown device is refused", user: "watch-9", pass: f.secrets["watch-1"]},
		{name: "a revoked device is refused", user: "watch-2", pass: f.secrets["watch-2"]},
		{name: "no username is refused", user: "", pass: f.secrets["watch-1"]},
		{name: "a wrong service password is refused", user: serviceUser, pass: servicePass + "x"},
		{name: "a last will on another device's status is refused", user: "watch-1", pass: f.secrets["watch-1"],
			opts: []func(*mqtt.ClientOptions){func(o *mqtt.ClientOptions) { o.SetWill(prefix+"watch-2/status", `{"online":false}`, 1, true) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.clientID
			if id == "" {
				id = tc.user
			}
			c, err := f.dial(t, id, tc.user, tc.pass, tc.opts...)
			if tc.ok {
				require.NoError(t, err)
				require.True(t, c.IsConnectionOpen())
				return
			}
			require.Error(t, err)
			require.False(t, c.IsConnected())
		})
	}
}

func TestPublish(t *testing.T) {
	h := newHandler()
	f := start(t, h)
	watch1 := f.device(t, "watch-1")

	t.Run("a reading reaches the handler in the name of the credential's device", func(t *testing.T) {
		// The client id says nothing: the username the secret proved is
		// the device.
		publish(t, watch1, prefix+"watch-1/readings", `{"type":"heart_rate","value":72}`)
		require.Equal(t, []message{{"watch-1", `{"type":"heart_rate","value":72}`}}, h.taken())
	})
	t.Run("a status message reaches the handler's Status", func(t *testing.T) {
		publish(t, watch1, prefix+"watch-1/status", `{"online":true,"battery":0.8}`)
		select {
		case m := <-h.statuses:
			require.Equal(t, message{"watch-1", `{"online":true,"battery":0.8}`}, m)
		default:
			t.Fatal("the status was acknowledged before the handler had it")
		}
		require.Len(t, h.taken(), 1, "a status is not a reading")
	})
	t.Run("a device's publish under another device's id is not delivered", func(t *testing.T) {
		service := f.service(t)
		seen := make(chan message, 8)
		require.EqualValues(t, 1, subscribe(t, service, prefix+"+/readings", seen))

		// QoS 0, so that the broker drops it without a word (a QoS 1 one
		// costs the device its connection, below). The broker handles a
		// client's packets in order: once the next, own reading is
		// acknowledged, the forged one has been dealt with.
		requireDone(t, watch1.Publish(prefix+"watch-2/readings", 0, false, `{"forged":true}`))
		requireDone(t, watch1.Publish(prefix+"watch-2/status", 0, false, `{"forged":true}`))
		publish(t, watch1, prefix+"watch-1/readings", `{"own":true}`)

		require.Equal(t, []message{{"watch-1", `{"type":"heart_rate","value":72}`}, {"watch-1", `{"own":true}`}}, h.taken())
		require.Empty(t, h.statuses)
		require.Equal(t, message{prefix + "watch-1/readings", `{"own":true}`}, receive(t, seen), "subscribers see only the own reading")
	})
	t.Run("a device's QoS 1 publish under another device's id costs it the connection", func(t *testing.T) {
		lost := make(chan error, 1)
		c := f.device(t, "watch-2", func(o *mqtt.ClientOptions) {
			o.SetClientID("watch-2")
			o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
		})
		c.Publish(prefix+"watch-1/readings", 1, false, `{"forged":true}`)
		select {
		case <-lost:
		case <-time.After(wait):
			t.Fatal("the device is still connected")
		}
		require.Len(t, h.taken(), 2, "nothing more reached the handler")
	})
	t.Run("the service account cannot publish readings in a device's name", func(t *testing.T) {
		service := f.service(t)
		requireDone(t, service.Publish(prefix+"watch-1/readings", 0, false, `{"by":"service"}`))
		publish(t, watch1, prefix+"watch-1/readings", `{"after":"service"}`)
		got := h.taken()
		require.Equal(t, message{"watch-1", `{"after":"service"}`}, got[len(got)-1])
		require.Len(t, got, 3)
	})
}

func TestAcknowledgement(t *testing.T) {
	h := newHandler()
	entered := make(chan string, 1)
	release := make(chan error)
	stop := make(chan struct{})
	h.onReadings = func(_ string, payload []byte) error {
		entered <- string(payload)
		select {
		case err := <-release:
			return err
		case <-stop: // a failed test must not leave the broker stuck
			return errors.New("test over")
		}
	}
	f := start(t, h)
	t.Cleanup(func() { close(stop) }) // runs before the broker's cleanup
	watch1 := f.device(t, "watch-1")

	t.Run("the PUBACK comes only after the handler returns", func(t *testing.T) {
		tok := watch1.Publish(prefix+"watch-1/readings", 1, false, "r1")
		require.Equal(t, "r1", <-entered)
		require.False(t, tok.WaitTimeout(early), "acknowledged while the handler still held the reading")
		release <- nil
		requireDone(t, tok)
		require.Equal(t, []message{{"watch-1", "r1"}}, h.taken())
	})
	t.Run("a reading the handler could not keep is not acknowledged", func(t *testing.T) {
		failed := watch1.Publish(prefix+"watch-1/readings", 1, false, "r2")
		require.Equal(t, "r2", <-entered)
		release <- errors.New("store down")

		// Acks come back in order: once the next reading's PUBACK is in,
		// the refused one's would have been too.
		next := watch1.Publish(prefix+"watch-1/readings", 1, false, "r3")
		require.Equal(t, "r3", <-entered)
		release <- nil
		requireDone(t, next)
		select {
		case <-failed.Done():
			t.Fatal("the refused reading was acknowledged")
		default:
		}
		require.Equal(t, []message{{"watch-1", "r1"}, {"watch-1", "r3"}}, h.taken())
	})
}

func TestSubscribe(t *testing.T) {
	f := start(t, newHandler())
	watch1 := f.device(t, "watch-1")
	watch2 := f.device(t, "watch-2")
	service := f.service(t)

	for _, tc := range []struct {
		name    string
		c       mqtt.Client
		filter  string
		granted bool
	}{
		{"the service account may subscribe to every device's readings", service, prefix + "+/readings", true},
		{"the service account may subscribe to every device's status", service, prefix + "+/status", true},
		{"the service account may join a shared subscription", service, "$share/vitalwire/" + prefix + "+/readings", true},
		{"the service account may not subscribe outside the device topics", service, "#", false},
		{"the service account may not leave the device topics through a shared subscription", service, "$share/vitalwire/#", false},
		{"a shared subscription needs a filter after its group", service, "$share/vitalwire", false},
		{"a device may subscribe to its own rejects", watch1, prefix + "watch-1/rejects", true},
		{"a device may not subscribe to another device's rejects", watch1, prefix + "watch-2/rejects", false},
		{"a device may not subscribe to another device's readings", watch1, prefix + "watch-2/readings", false},
		{"a device may not subscribe to every device's readings", watch1, prefix + "+/readings", false},
		{"a device may not subscribe to its own readings", watch1, prefix + "watch-1/readings", false},
		{"a device may not subscribe to everything", watch1, "#", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := subscribe(t, tc.c, tc.filter, make(chan message, 8))
			if tc.granted {
				require.EqualValues(t, 1, code)
			} else {
				require.EqualValues(t, refused, code)
			}
		})
	}
	t.Run("a device's rejects reach that device only", func(t *testing.T) {
		got1 := make(chan message, 8)
		got2 := make(chan message, 8)
		subscribe(t, watch1, prefix+"watch-1/rejects", got1)
		subscribe(t, watch2, prefix+"watch-2/rejects", got2)
		f.b.Reject("watch-2", []byte(`{"reason":"implausible"}`))
		f.b.Reject("watch-1", []byte(`{"reason":"unit"}`))
		require.Equal(t, message{prefix + "watch-1/rejects", `{"reason":"unit"}`}, receive(t, got1))
		require.Equal(t, message{prefix + "watch-2/rejects", `{"reason":"implausible"}`}, receive(t, got2))
		require.Empty(t, got1, "watch-2's reject, sent first, did not come to watch-1")
	})
}

func TestDisconnectDevice(t *testing.T) {
	h := newHandler()
	f := start(t, h)
	lost := make(chan error, 1)
	watch1 := f.device(t, "watch-1", func(o *mqtt.ClientOptions) {
		o.SetWill(prefix+"watch-1/status", `{"online":false}`, 1, true)
		o.SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	})
	watch2 := f.device(t, "watch-2")
	require.EqualValues(t, 2, f.b.ConnectedClients())

	f.b.DisconnectDevice("watch-1")

	t.Run("the device's connection is closed", func(t *testing.T) {
		select {
		case err := <-lost:
			require.Error(t, err)
		case <-time.After(wait):
			t.Fatal("the device is still connected")
		}
		require.False(t, watch1.IsConnectionOpen())
	})
	t.Run("its last will reaches the handler as its status", func(t *testing.T) {
		select {
		case m := <-h.statuses:
			require.Equal(t, message{"watch-1", `{"online":false}`}, m)
		case <-time.After(wait):
			t.Fatal("no last will")
		}
	})
	t.Run("other devices stay connected", func(t *testing.T) {
		require.True(t, watch2.IsConnectionOpen())
		publish(t, watch2, prefix+"watch-2/readings", "still here")
		require.Equal(t, []message{{"watch-2", "still here"}}, h.taken())
	})
	t.Run("disconnecting a device that is not connected does nothing", func(t *testing.T) {
		f.b.DisconnectDevice("watch-9")
		require.True(t, watch2.IsConnectionOpen())
	})
}
