package security

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

// Threat: a signed-in user turns the live socket into a tool for filling
// the audit trail: every subscription is decided and audited, so a loop of
// subscriptions (to the same patient, or to patients the user may not see)
// writes without end.

// liveEvents counts subject's audit events about the live socket.
func liveEvents(t *testing.T, s *harness.Service, subject, patient string) int {
	n := 0
	for _, e := range s.Audit(t, patient) {
		if e.Actor == subject && strings.Contains(e.Action, "/ws/v1/live") {
			n++
		}
	}
	return n
}

func TestTheLiveSocketIsNotAnAuditFloodTool(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.Ward(t)

	t.Run("subscribing again to a followed patient is answered without a new event", func(t *testing.T) {
		l := s.DialLive(t, s.Clinician("doc1"))
		for i := 0; i < 50; i++ {
			require.Equal(t, "subscribed", l.Subscribe("p1")["p1"].Type)
		}
		require.Equal(t, 1, liveEvents(t, s, "doc1", "p1"), "one subscription, one event")
	})

	t.Run("a socket that keeps asking for patients it may not see is closed", func(t *testing.T) {
		l := s.DialLive(t, s.Clinician("doc2"))
		var ids []string
		for i := 0; i < 300; i++ {
			ids = append(ids, fmt.Sprintf("nobody-%d", i))
		}
		require.NoError(t, l.Conn.WriteJSON(map[string]any{"type": "subscribe", "patients": ids}))
		refused := 0
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			m, err := l.Next(time.Until(deadline))
			if err != nil {
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce, "the socket is closed with a reason")
				require.Equal(t, websocket.ClosePolicyViolation, ce.Code)
				require.Contains(t, ce.Text, "refused")
				break
			}
			if m.Type == "error" {
				refused++
			}
		}
		require.Equal(t, 100, refused, "refusals answered before the socket closed")
		written := 0
		for _, id := range ids {
			written += liveEvents(t, s, "doc2", id)
		}
		require.LessOrEqual(t, written, 100, "audit events the socket could make")
	})
}
