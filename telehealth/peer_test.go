package telehealth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/telehealth"
)

// sfuServer serves signalling for one visit; the subject comes from the
// query (the app authenticates; here the SFU is under test).
func sfuServer(t testing.TB) (*telehealth.SFU, string) {
	return sfuServerConfig(t, telehealth.Config{LoopbackOnly: true})
}

func sfuServerWith(t testing.TB, cfg telehealth.Config) string {
	_, base := sfuServerConfig(t, cfg)
	return base
}

func sfuServerConfig(t testing.TB, cfg telehealth.Config) (*telehealth.SFU, string) {
	sfu, err := telehealth.NewSFU(cfg, zerolog.Nop())
	require.NoError(t, err)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		who := telehealth.Participant{Subject: r.URL.Query().Get("who"), Role: r.URL.Query().Get("role")}
		sfu.Serve(conn, r.URL.Query().Get("visit"), who, telehealth.Hooks{End: func(string) error { return nil }})
	}))
	t.Cleanup(srv.Close)
	return sfu, strings.Replace(srv.URL, "http://", "ws://", 1)
}

func wsURL(base, visit, who string) string {
	return fmt.Sprintf("%s/?visit=%s&who=%s&role=patient", base, visit, who)
}
