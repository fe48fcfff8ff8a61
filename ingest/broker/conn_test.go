package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// guarded returns what reading the bytes in through a connectGuard with a
// CONNECT limit of max gives.
func guarded(t *testing.T, in []byte, max int, chunk int) ([]byte, error) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	go func() {
		for len(in) > 0 {
			n := min(chunk, len(in))
			if _, err := client.Write(in[:n]); err != nil {
				return
			}
			in = in[n:]
		}
		client.Close()
	}()
	l := DefaultLimits()
	l.MaxConnectBytes = max
	return io.ReadAll(guard(server, l))
}

func TestTheConnectGuard(t *testing.T) {
	connect := append([]byte{0x10, 0x0c}, make([]byte, 12)...)
	for _, chunk := range []int{1, 3, 1024} {
		t.Run("passes a CONNECT within the limit, and what follows, read in pieces", func(t *testing.T) {
			in := append(append([]byte{}, connect...), 0x30, 0xff, 0xff, 0x03) // then a large PUBLISH header: mochi's to judge
			got, err := guarded(t, in, 64, chunk)
			require.NoError(t, err)
			require.Equal(t, in, got)
		})
		t.Run("refuses a CONNECT declared past the limit, before its body", func(t *testing.T) {
			_, err := guarded(t, []byte{0x10, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0}, 8<<10, chunk)
			require.ErrorIs(t, err, errConnectTooLarge)
		})
		t.Run("refuses a first packet that is not a CONNECT", func(t *testing.T) {
			_, err := guarded(t, []byte{0x30, 0x02, 0, 0}, 8<<10, chunk)
			require.ErrorIs(t, err, errNotConnect)
		})
	}
	t.Run("ends a CONNECT that does not arrive within the connect timeout", func(t *testing.T) {
		server, client := net.Pipe()
		defer client.Close()
		l := DefaultLimits()
		l.ConnectTimeout = 50 * time.Millisecond
		_, err := guard(server, l).Read(make([]byte, 1))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})
}

func TestTheLogAdapterWritesNoPacketContent(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(&slogAdapter{log: zerolog.New(&out).Level(zerolog.InfoLevel)})
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "vitalwire/v1/devices/w/readings",
		Payload: []byte(`{"type":"heart_rate","value":187.123}`)}
	pk.Connect.Password = []byte("hunter2-password")
	log.Warn("error processing packet", "error", packets.ErrNotAuthorized, "client", "w", "pk", pk, "raw", []byte("187.123"), "other", struct{ S string }{"187.123"})
	log.Warn("", "error", errors.New("read connection: EOF"))
	got := out.String()
	require.NotContains(t, got, "187.123")
	require.NotContains(t, got, "49 56 55")
	require.NotContains(t, got, "hunter2")
	require.Contains(t, got, `"pk_type":"Publish"`)
	require.Contains(t, got, `"pk_payload_bytes":37`)
	require.Contains(t, got, `"error":"not authorized"`)
	require.NotContains(t, got, "read connection", "a connection that ended is debug")
	require.True(t, (&slogAdapter{}).Enabled(context.Background(), slog.LevelWarn))
}
