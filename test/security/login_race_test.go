package security

import (
	"encoding/json"
	"fmt"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: guessing a password faster than the lockout counts. Five wrong
// passwords lock an account; parallel guesses must not each be checked
// before any of them is counted. And every check costs 19 MiB and tens of
// milliseconds of a core: many at once must not take the server's memory
// or its health check with them.

const rightPassword = "correct horse battery staple"

// login signs in and returns the status and the error text of the answer.
func login(t *testing.T, s *harness.Service, username, password string) (int, string, http.Header) {
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
	resp, err := http.Post(s.URL()+"/api/v1/session", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error, resp.Header
}

// A checked wrong password is answered "wrong username or password"; an
// attempt refused before any check (the account is locked, or its
// attempts are taken) says so.
func checked(status int, msg string) bool {
	return status == http.StatusUnauthorized && strings.Contains(msg, "wrong username or password")
}

func addUser(t *testing.T, s *harness.Service, username string) {
	s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/users", s.Admin(),
		map[string]string{"username": username, "subject": "doc-" + username, "role": "clinician", "password": rightPassword}, nil)
}

type answer struct {
	status int
	msg    string
}

// guess sends n logins with password at once and returns their answers.
func guess(t *testing.T, s *harness.Service, username string, passwords []string) []answer {
	out := make([]answer, len(passwords))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, pw := range passwords {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, msg, _ := login(t, s, username, pw)
			out[i] = answer{st, msg}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func TestParallelGuessesCannotOutrunTheLockout(t *testing.T) {
	cfg := harness.Config(t)
	// The per-source limit is another defence: here it stays out of the way.
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_AUTH_LOGIN_PER_MINUTE=10000", "VITALWIRE_AUTH_LOGIN_BURST=1000",
		"VITALWIRE_AUTH_HASH_WAIT=30s"}))
	s := harness.Start(t, cfg)
	const lockoutAfter = 5

	t.Run("of 30 guesses at once, the right one among them, at most five are checked", func(t *testing.T) {
		addUser(t, s, "alice")
		pws := make([]string, 30)
		for i := range pws {
			pws[i] = fmt.Sprintf("wrong guess number %d", i)
		}
		pws[17] = rightPassword
		checks := 0
		for i, a := range guess(t, s, "alice", pws) {
			if checked(a.status, a.msg) || (i == 17 && a.status == http.StatusOK) {
				checks++
			}
		}
		require.LessOrEqual(t, checks, lockoutAfter, "passwords checked of 30 sent at once")
	})

	t.Run("a right password arriving while wrong guesses hold the account is refused", func(t *testing.T) {
		addUser(t, s, "bob")
		answers := make(chan answer, 29)
		for i := range 29 {
			go func() {
				st, msg, _ := login(t, s, "bob", fmt.Sprintf("wrong guess number %d", i))
				answers <- answer{st, msg}
			}()
		}
		// Once one guess is refused unchecked, the account's attempts are
		// spent; the right password comes after that.
		var got []answer
		deadline := time.After(60 * time.Second)
		for len(got) < 29 {
			select {
			case a := <-answers:
				got = append(got, a)
			case <-deadline:
				t.Fatalf("only %d of 29 guesses were answered", len(got))
			}
			if a := got[len(got)-1]; a.status != 0 && !checked(a.status, a.msg) {
				break
			}
		}
		st, msg, _ := login(t, s, "bob", rightPassword)
		for len(got) < 29 {
			got = append(got, <-answers)
		}
		checks := 0
		for _, a := range got {
			if checked(a.status, a.msg) {
				checks++
			} else {
				require.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, a.status, "a guess refused unchecked: %s", a.msg)
			}
		}
		require.LessOrEqual(t, checks, lockoutAfter, "passwords checked of 29 wrong guesses at once")
		require.Equal(t, http.StatusUnauthorized, st, "the right password after the lock: %s", msg)
		require.Contains(t, msg, "too many failed sign-ins")

		var locked bool
		for _, e := range s.Audit(t, "") {
			if e.Actor == "bob" && e.Outcome == auth.Refused && strings.Contains(e.Action, "locked") {
				locked = true
			}
		}
		require.True(t, locked, "the audit log says the account was locked")
	})
}

func TestPasswordChecksRunAtMostTheConfiguredNumberAtOnce(t *testing.T) {
	cfg := harness.Config(t)
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_AUTH_LOGIN_PER_MINUTE=10000", "VITALWIRE_AUTH_LOGIN_BURST=1000",
		"VITALWIRE_AUTH_HASH_CONCURRENCY=2", "VITALWIRE_AUTH_HASH_WAIT=100ms"}))
	s := harness.Start(t, cfg)

	type result struct {
		status int
		retry  string
	}
	results := make([]result, 40)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Different accounts: the lockout does not stop any of them.
			st, _, h := login(t, s, fmt.Sprintf("user-%d", i), "not the password at all")
			results[i] = result{st, h.Get("Retry-After")}
		}()
	}
	close(start)
	wg.Wait()

	busy := 0
	for _, r := range results {
		switch r.status {
		case http.StatusUnauthorized:
		case http.StatusServiceUnavailable:
			busy++
			require.NotEmpty(t, r.retry, "a 503 says when to retry")
		default:
			t.Fatalf("a login answered %d", r.status)
		}
	}
	m := s.Metrics(t)
	require.Contains(t, m, "vitalwire_password_hash_inflight_max")
	require.LessOrEqual(t, m["vitalwire_password_hash_inflight_max"], 2.0, "password checks running at once, at most")
	require.Positive(t, busy, "past the cap and the wait, logins are turned away")
	require.Equal(t, float64(busy), m["vitalwire_password_hash_busy_total"], "each turned away is counted")
}

func TestSignInAttemptsAreRateLimitedPerSource(t *testing.T) {
	cfg := harness.Config(t)
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_AUTH_LOGIN_PER_MINUTE=3", "VITALWIRE_AUTH_LOGIN_BURST=3"}))
	s := harness.Start(t, cfg)
	var statuses []int
	for i := range 6 {
		st, _, h := login(t, s, fmt.Sprintf("someone-%d", i), "not the password at all")
		statuses = append(statuses, st)
		if st == http.StatusTooManyRequests {
			require.NotEmpty(t, h.Get("Retry-After"))
		}
	}
	require.Equal(t, []int{401, 401, 401, 429, 429, 429}, statuses)

	t.Run("sign-in links and join links count against the same limit", func(t *testing.T) {
		st := s.Call(t, "POST", "/api/v1/session", "", map[string]string{"code": "forged"}, nil)
		require.Equal(t, http.StatusTooManyRequests, st)
		st = s.Call(t, "POST", "/api/v1/visits/v-abc/session", "", map[string]string{"code": "forged"}, nil)
		require.Equal(t, http.StatusTooManyRequests, st)
	})
}

// Threat: a flood of sign-ins keeps devices off the broker. Password
// checks are capped; if device secrets waited for the same slots, every
// device connecting during the flood would be turned away.
func TestASignInFloodDoesNotKeepDevicesFromConnecting(t *testing.T) {
	cfg := harness.Config(t)
	require.NoError(t, cfg.ApplyEnv([]string{"VITALWIRE_AUTH_LOGIN_PER_MINUTE=100000", "VITALWIRE_AUTH_LOGIN_BURST=100000",
		"VITALWIRE_AUTH_HASH_CONCURRENCY=1", "VITALWIRE_AUTH_HASH_WAIT=200ms"}))
	s := harness.Start(t, cfg)
	secrets := map[string]string{}
	for i := 0; i < 10; i++ {
		id := fmt.Sprintf("watch-%d", i)
		secrets[id] = s.AddDevice(t, id, fmt.Sprintf("patient-%d", i))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				login(t, s, fmt.Sprintf("spray-%d-%d", i, n), "not the password at all")
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	require.Eventually(t, func() bool { return s.Metrics(t)["vitalwire_password_hash_busy_total"] > 0 },
		10*time.Second, 20*time.Millisecond, "the sign-ins fill the password slots")

	// Each device's first connection, whose secret the broker has not
	// checked before.
	for id, secret := range secrets {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(s.BrokerAddr()).SetClientID(id).
			SetUsername(id).SetPassword(secret).SetConnectRetry(false).SetAutoReconnect(false))
		tok := c.Connect()
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error(), "%s's first try at connecting during the flood", id)
		c.Disconnect(0)
	}
	require.Zero(t, s.Metrics(t)["vitalwire_device_secret_busy_total"])
}
