package security

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
	"github.com/vitalwire/vitalwire/vitals"
)

// Threat: the log, read by more people and kept longer than the records,
// carries vital values or secrets: the packet the broker refused, with the
// readings in it, or the password of a failed sign-in.

func TestTheLogCarriesNoPayloadNorPasswordAndNamesTheSourceOfAFailedDeviceSignIn(t *testing.T) {
	t.Parallel()
	s, log := harness.StartLogged(t, harness.Config(t))
	secretA := s.AddDevice(t, "watch-a", "patient-a")
	s.AddDevice(t, "watch-b", "patient-b")
	const value = 187.123
	const password = "Wrong-Pass-7f3a9c-not-the-secret"

	// A packet the broker refuses: watch-a publishes under watch-b's id.
	a := harness.Connect(t, s.BrokerURL(), "watch-a", secretA)
	tok := a.Client.Publish("vitalwire/v1/devices/watch-b/readings", 1, false, harness.Reading(vitals.HeartRate, value, "/min", time.Now()))
	tok.WaitTimeout(3 * time.Second)

	// A device sign-in with a wrong password.
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.BrokerURL()).SetClientID("watch-a").
		SetUsername("watch-a").SetPassword(password).SetConnectRetry(false).SetAutoReconnect(false))
	ctok := c.Connect()
	require.True(t, ctok.WaitTimeout(10*time.Second))
	require.Error(t, ctok.Error())

	out := log.String()
	// The value as text, and its bytes as Go prints a []byte and as hex.
	asBytes := strings.Trim(fmt.Sprint([]byte("187.123")), "[]")
	require.NotContains(t, out, asBytes, "the log carries a refused packet's reading, as bytes")

	var authLine map[string]any
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(log.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			if msg, _ := m["message"].(string); strings.Contains(msg, "authentication") && m["remote_ip"] == "127.0.0.1" {
				authLine = m
				return true
			}
		}
		return false
	}, 5*time.Second, 50*time.Millisecond, "no log line names the source address of the failed device sign-in; the log:\n%s", log.String())
	require.Equal(t, "watch-a", authLine["device"])

	out = log.String()
	require.NotContains(t, out, "187.123", "the log carries a refused packet's reading")
	require.NotContains(t, out, asBytes, "the log carries a refused packet's reading, as bytes")
	require.NotContains(t, out, hex.EncodeToString([]byte("187.123")), "the log carries a refused packet's reading, in hex")
	require.NotContains(t, out, "heart_rate", "the log carries a refused packet's payload")
	require.NotContains(t, out, password, "the log carries a password")
	require.NotContains(t, out, secretA, "the log carries a device secret")
}

func TestAFailedSignInIsLoggedWithItsSourceAndNothingTyped(t *testing.T) {
	t.Parallel()
	s, log := harness.StartLogged(t, harness.Config(t))
	s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/users", s.Admin(),
		map[string]string{"username": "nurse", "subject": "nurse-1", "role": "clinician", "password": "correct horse battery staple"}, nil)
	const typed = "Typed-Into-The-Wrong-Box-4e1b"
	for _, body := range []string{`{"username":"nurse","password":"` + typed + `"}`, `{"username":"nurse-` + strings.ToLower(typed[:5]) + `","password":"x"}`} {
		resp, err := http.Post(s.URL()+"/api/v1/session", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	refused := 0
	for _, line := range strings.Split(log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "sign-in refused" {
			require.Equal(t, "127.0.0.1", m["remote_ip"], "the line names the source address")
			refused++
		}
	}
	require.Equal(t, 2, refused, "each refused sign-in is logged")
	require.NotContains(t, log.String(), typed, "the log carries what was typed as a password")
	require.NotContains(t, log.String(), "nurse-"+strings.ToLower(typed[:5]), "the log carries what was typed as a username")
}
