package harness

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// Raw sends body as it is with a content type (and an Accept header when
// accept is set), with a bearer token ("" for none), and returns the
// status and the whole answer: for uploads that are not JSON (a CSV of
// devices) and answers read as text.
func (s *Service) Raw(t testing.TB, method, path, token, contentType, accept string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// DeviceLogin is how a test device signs in to a broker: a client id,
// optionally a username and password, optionally a TLS configuration
// (with a client certificate for mutual TLS).
type DeviceLogin struct {
	ClientID, Username, Password string
	TLS                          *tls.Config
}

func (l DeviceLogin) options(broker string) *mqtt.ClientOptions {
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(l.ClientID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	if l.Username != "" {
		o.SetUsername(l.Username)
	}
	if l.Password != "" {
		o.SetPassword(l.Password)
	}
	if l.TLS != nil {
		o.SetTLSConfig(l.TLS)
	}
	return o
}

// TryConnect connects once and returns the client, or why the broker
// (or the TLS handshake) refused it.
func TryConnect(t testing.TB, broker string, l DeviceLogin) (mqtt.Client, error) {
	t.Helper()
	c := mqtt.NewClient(l.options(broker))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timeout")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

// ConnectAs is TryConnect that requires the connection, as a Device
// (Publish, PublishTo) named id.
func ConnectAs(t testing.TB, broker, id string, l DeviceLogin) *Device {
	t.Helper()
	c, err := TryConnect(t, broker, l)
	require.NoError(t, err, "connect %s", id)
	return &Device{ID: id, Client: c, t: t}
}
