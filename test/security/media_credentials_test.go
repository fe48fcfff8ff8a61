package security

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: a participant (a patient at home, an invited colleague) keeps
// the TURN credentials a visit gave them and uses the embedded TURN
// server afterwards as a free relay, or during the visit as a way into
// the hospital's network: UDP from the server's address to hosts and
// ports no participant should reach.

// turnCredentials joins a visit's signalling as the token's holder and
// returns the embedded TURN server's entry of the welcome, with the
// socket (the participant stays in the visit while it is open).
func turnCredentials(t *testing.T, s *harness.Service, visit, token string) (webrtc.ICEServer, *websocket.Conn) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+visit, http.Header{"Authorization": {"Bearer " + token}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	require.NoError(t, ws.WriteJSON(telehealth.Message{Type: "join"}))
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var welcome telehealth.Message
	require.NoError(t, ws.ReadJSON(&welcome))
	require.Equal(t, "welcome", welcome.Type)
	// The server's offer follows: the participant is in the visit.
	var offer telehealth.Message
	require.NoError(t, ws.ReadJSON(&offer))
	ws.SetReadDeadline(time.Time{})
	go func() { // keep reading (pings, participants) until closed
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for _, ice := range welcome.ICEServers {
		for _, u := range ice.URLs {
			if strings.HasPrefix(u, "turn:") {
				return ice, ws
			}
		}
	}
	t.Fatalf("no TURN server in the welcome: %+v", welcome.ICEServers)
	return webrtc.ICEServer{}, nil
}

// turnClient allocates a relay on the TURN server at addr with the
// credentials, or returns the allocation's error.
func turnClient(t *testing.T, addr string, ice webrtc.ICEServer) (*turn.Client, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: ice.Username, Password: ice.Credential.(string), RTO: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { relay.Close() })
	return c, nil
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func TestTheEmbeddedTURNServerRelaysOnlyToTheServerAndOnlyDuringTheVisit(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	turnAddr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	cfg.Telehealth.EmbeddedTURNAddr = turnAddr
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc := s.Clinician("doc1")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc, `{}`, &created)
	visit := created.Visit.ID
	ice, ws := turnCredentials(t, s, visit, doc)

	c, err := turnClient(t, turnAddr, ice)
	require.NoError(t, err, "a participant in the visit allocates a relay")
	t.Run("a relay towards the server's own media address is permitted", func(t *testing.T) {
		require.NoError(t, c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}))
	})
	for _, peer := range []string{"10.20.30.40", "192.168.1.10", "192.0.2.1", "169.254.169.254", "127.0.0.53"} {
		t.Run("a relay towards "+peer+" (not the server) is refused", func(t *testing.T) {
			require.Error(t, c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 53}))
		})
	}

	t.Run("the credentials are refused once the visit has ended", func(t *testing.T) {
		ws.Close()
		s.MustCall(t, http.StatusOK, "POST", "/api/v1/visits/"+visit+"/end", doc, `{}`, nil)
		_, err := turnClient(t, turnAddr, ice)
		require.Error(t, err, "an allocation with a finished visit's credentials")
	})
}

func TestAParticipantOnlyARelayReachesStillTakesPartThroughTheEmbeddedTURNServer(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Telehealth.EmbeddedTURNAddr = fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc1, doc2 := s.Clinician("doc1"), s.Clinician("doc2")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc1, `{}`, &created)
	url := s.WSURL() + "/ws/v1/visits/" + created.Visit.ID
	api := rtctest.API(t)
	natted := rtctest.JoinWith(t, api, url, "doc1", http.Header{"Authorization": {"Bearer " + doc1}}, rtctest.Options{RelayOnly: true})
	other := rtctest.Join(t, api, url, "doc2", http.Header{"Authorization": {"Bearer " + doc2}})
	natted.Send(300)
	other.Send(300)
	natted.WaitFor("doc2", "video", 50, 20*time.Second)
	other.WaitFor("doc1", "video", 50, 20*time.Second)
	require.Equal(t, "relay", natted.LocalCandidateType(), "media went through the TURN relay")
}

func TestTURNCredentialsLastTheConfiguredTime(t *testing.T) {
	t.Parallel()
	cfg := harness.Config(t)
	cfg.Telehealth.LoopbackOnly = true
	cfg.Telehealth.EmbeddedTURNAddr = fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	cfg.Telehealth.TURNCredentialTTL = 2 * time.Hour
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc := s.Clinician("doc1")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc, `{}`, &created)
	ice, _ := turnCredentials(t, s, created.Visit.ID, doc)
	// The TURN REST API form: the username starts with the expiry.
	var expires int64
	_, err := fmt.Sscanf(ice.Username, "%d:", &expires)
	require.NoError(t, err, "username %q", ice.Username)
	require.InDelta(t, time.Now().Add(2*time.Hour).Unix(), expires, 60)
	require.NotContains(t, ice.Username, "doc1", "the TURN server and its logs see no one's id")
}

// hostIPv4 is an IPv4 address of this machine's interfaces that is not
// loopback, or "".
func hostIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

func TestTheServerOffersParticipantsOnlyTheMediaAddressesConfigured(t *testing.T) {
	t.Parallel()
	ip := hostIPv4()
	if ip == "" {
		testenv.Missing(t, "this machine has no IPv4 address but loopback")
	}
	cfg := harness.Config(t)
	cfg.Telehealth.MediaIPs = ip
	s := harness.Start(t, cfg)
	s.Ward(t)
	doc := s.Clinician("doc1")
	var created httpapi.VisitCreated
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients/p1/visits", doc, `{}`, &created)
	ws, _, err := websocket.DefaultDialer.Dial(s.WSURL()+"/ws/v1/visits/"+created.Visit.ID, http.Header{"Authorization": {"Bearer " + doc}})
	require.NoError(t, err)
	defer ws.Close()
	require.NoError(t, ws.WriteJSON(telehealth.Message{Type: "join"}))
	// What a participant learns of the server's addresses: the offer's
	// and the trickled candidates, for two seconds.
	var addrs []string
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		var m telehealth.Message
		if ws.ReadJSON(&m) != nil {
			break
		}
		lines := strings.Split(m.SDP, "\n")
		if m.Candidate != nil {
			lines = append(lines, m.Candidate.Candidate)
		}
		for _, l := range lines {
			if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "a=")); len(f) > 4 && strings.HasPrefix(f[0], "candidate:") {
				addrs = append(addrs, f[4])
			}
		}
	}
	require.NotEmpty(t, addrs, "the server offers candidates")
	for _, a := range addrs {
		require.Equal(t, ip, a, "every address offered is %s: %v", ip, addrs)
	}
}
