package devices

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/test/harness"
)

const brokerSecret = "a-shared-secret-of-the-broker-0123456789"

// brokerAuthConfig is a service whose broker-auth endpoint is on.
func brokerAuthConfig(t *testing.T) app.Config {
	cfg := harness.Config(t)
	f := filepath.Join(t.TempDir(), "broker-auth.secret")
	require.NoError(t, os.WriteFile(f, []byte(brokerSecret+"\n"), 0o600))
	cfg.BrokerAuth.SecretFile = f
	cfg.MQTT.Username, cfg.MQTT.Password = "vitalwire-ingest", "the-service-password"
	return cfg
}

type brokerAnswer struct {
	Result      string `json:"result"`
	IsSuperuser bool   `json:"is_superuser"`
	OK          bool   `json:"ok"`
}

// ask calls the endpoint as a broker would: with the shared secret, a body
// of contentType.
func ask(t *testing.T, s *harness.Service, path, secret, contentType, body string) (int, brokerAnswer) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL()+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := s.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var a brokerAnswer
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	}
	return resp.StatusCode, a
}

// emqx is the JSON body EMQX 5's HTTP authenticator or authorizer sends
// with the request templates of docs/DEVICES.md (the placeholders
// filled in; EMQX sends qos and retain as strings).
func emqx(fields map[string]string) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

func TestTheBrokerAuthEndpointAnswersEMQXsRequestsByTheRegistryAndTheACL(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, brokerAuthConfig(t))
	secret1 := s.AddDevice(t, "dev-1", "")
	s.AddDevice(t, "dev-2", "")
	secret3 := s.AddDevice(t, "dev-3", "")
	const js = "application/json"
	login := func(user, pass, client string) brokerAnswer {
		st, a := ask(t, s, "/api/v1/broker/auth", brokerSecret, js,
			emqx(map[string]string{"clientid": client, "username": user, "password": pass, "peerhost": "10.1.2.3"}))
		require.Equal(t, http.StatusOK, st)
		return a
	}
	acl := func(user, topic, action string) brokerAnswer {
		st, a := ask(t, s, "/api/v1/broker/acl", brokerSecret, js,
			emqx(map[string]string{"clientid": user, "username": user, "topic": topic, "action": action, "qos": "1", "retain": "false", "peerhost": "10.1.2.3"}))
		require.Equal(t, http.StatusOK, st)
		return a
	}

	t.Run("a device logs in with its secret and its own client id, and no other way", func(t *testing.T) {
		require.Equal(t, brokerAnswer{Result: "allow", OK: true}, login("dev-1", secret1, "dev-1"))
		require.Equal(t, "deny", login("dev-1", secret1+"x", "dev-1").Result)
		require.Equal(t, "deny", login("dev-1", secret1, "dev-2").Result, "another device's client id")
		require.Equal(t, "deny", login("dev-2", secret1, "dev-2").Result, "another device's secret")
		require.Equal(t, "deny", login("nobody", secret1, "nobody").Result)
		require.Equal(t, "deny", login("", "", "x").Result)
	})

	t.Run("the service account logs in with its password, never as a superuser", func(t *testing.T) {
		a := login("vitalwire-ingest", "the-service-password", "vitalwire-ingest-1")
		require.Equal(t, "allow", a.Result)
		require.False(t, a.IsSuperuser)
		require.Equal(t, "deny", login("vitalwire-ingest", "guess", "vitalwire-ingest-1").Result)
	})

	t.Run("a revoked device is refused at its next login", func(t *testing.T) {
		require.Equal(t, "allow", login("dev-3", secret3, "dev-3").Result)
		s.RevokeDevice(t, "dev-3")
		require.Equal(t, "deny", login("dev-3", secret3, "dev-3").Result)
	})

	t.Run("topics follow the contract's ACL", func(t *testing.T) {
		for _, tc := range []struct {
			user, topic, action, want string
		}{
			{"dev-1", "vitalwire/v1/devices/dev-1/readings", "publish", "allow"},
			{"dev-1", "vitalwire/v1/devices/dev-1/status", "publish", "allow"},
			{"dev-1", "vitalwire/v1/devices/dev-2/readings", "publish", "deny"},
			{"dev-1", "vitalwire/v1/devices/dev-1/rejects", "subscribe", "allow"},
			{"dev-1", "vitalwire/v1/devices/dev-1/rejects", "publish", "deny"},
			{"dev-1", "vitalwire/v1/devices/+/readings", "subscribe", "deny"},
			{"dev-1", "#", "subscribe", "deny"},
			{"vitalwire-ingest", "$share/vitalwire/vitalwire/v1/devices/+/readings", "subscribe", "allow"},
			{"vitalwire-ingest", "vitalwire/v1/devices/dev-1/rejects", "publish", "allow"},
			{"vitalwire-ingest", "vitalwire/v1/devices/dev-1/readings", "publish", "deny"},
		} {
			require.Equal(t, tc.want, acl(tc.user, tc.topic, tc.action).Result, "%s %s %s", tc.user, tc.action, tc.topic)
		}
	})

	t.Run("the Mosquitto plugin's form shape gets the same answers", func(t *testing.T) {
		const form = "application/x-www-form-urlencoded"
		st, a := ask(t, s, "/api/v1/broker/auth", brokerSecret, form, "username=dev-1&password="+secret1+"&clientid=dev-1")
		require.Equal(t, http.StatusOK, st)
		require.True(t, a.OK)
		_, a = ask(t, s, "/api/v1/broker/acl", brokerSecret, form, "username=dev-1&clientid=dev-1&topic=vitalwire/v1/devices/dev-1/readings&acc=2")
		require.True(t, a.OK)
		_, a = ask(t, s, "/api/v1/broker/acl", brokerSecret, form, "username=dev-1&clientid=dev-1&topic=vitalwire/v1/devices/dev-2/readings&acc=2")
		require.False(t, a.OK)
		_, a = ask(t, s, "/api/v1/broker/acl", brokerSecret, form, "username=dev-1&clientid=dev-1&topic=vitalwire/v1/devices/dev-1/readings&acc=3")
		require.False(t, a.OK, "read and write: a device may not read its readings topic")
	})

	t.Run("without the shared secret nothing is answered", func(t *testing.T) {
		body := emqx(map[string]string{"clientid": "dev-1", "username": "dev-1", "password": secret1})
		st, _ := ask(t, s, "/api/v1/broker/auth", "", js, body)
		require.Equal(t, http.StatusUnauthorized, st)
		st, _ = ask(t, s, "/api/v1/broker/auth", brokerSecret+"x", js, body)
		require.Equal(t, http.StatusUnauthorized, st)
		st, _ = ask(t, s, "/api/v1/broker/auth", s.Admin(), js, body)
		require.Equal(t, http.StatusUnauthorized, st, "an admin's token is not the broker's secret")
		st, _ = ask(t, s, "/api/v1/broker/auth", brokerSecret, js, `{"username":"`+strings.Repeat("x", 20<<10)+`"}`)
		require.Equal(t, http.StatusBadRequest, st, "the body is bounded")
	})
}

func TestTheBrokerAuthEndpointIsRateLimitedOffByDefaultAndKeepsItsSecret(t *testing.T) {
	t.Parallel()

	t.Run("calls past the burst from one address get 429 with Retry-After", func(t *testing.T) {
		cfg := brokerAuthConfig(t)
		cfg.BrokerAuth.PerSecond, cfg.BrokerAuth.Burst = 1, 5
		s := harness.Start(t, cfg)
		body := emqx(map[string]string{"clientid": "x", "username": "x", "password": "y"})
		codes := map[int]int{}
		for range 8 {
			st, _ := ask(t, s, "/api/v1/broker/auth", brokerSecret, "application/json", body)
			codes[st]++
		}
		require.Equal(t, 5, codes[http.StatusOK], "%v", codes)
		require.GreaterOrEqual(t, codes[http.StatusTooManyRequests], 2, "%v", codes)
		st, _ := ask(t, s, "/api/v1/broker/auth", "wrong-secret-guess", "application/json", body)
		require.Equal(t, http.StatusTooManyRequests, st, "guesses of the secret are limited too")
		require.GreaterOrEqual(t, s.Metrics(t)[`vitalwire_rate_limited_total{limit="broker_auth"}`], 3.0)
	})

	t.Run("without a secret file the endpoint does not exist", func(t *testing.T) {
		s := harness.Start(t, harness.Config(t))
		st, _ := ask(t, s, "/api/v1/broker/auth", brokerSecret, "application/json", `{}`)
		require.Equal(t, http.StatusNotFound, st)
	})

	t.Run("a secret file others can read stops the service at start", func(t *testing.T) {
		cfg := brokerAuthConfig(t)
		require.NoError(t, os.Chmod(cfg.BrokerAuth.SecretFile, 0o644))
		cfg.Finish()
		require.NoError(t, cfg.Validate())
		_, err := app.New(context.Background(), cfg, zerolog.Nop(), app.Options{})
		require.ErrorContains(t, err, "broker_auth.secret_file")
		require.ErrorContains(t, err, "0600")
	})
}
