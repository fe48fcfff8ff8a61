package ingest

import (
	"bytes"
	"net"
	"net/url"
	"sync/atomic"
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/require"
)

// countingConn counts the reads that reach the connection (each one a
// system call on a socket).
type countingConn struct {
	net.Conn
	reads *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// publishStream is n QoS 1 PUBLISH packets of a batch of readings, as a
// broker sends them to the ingester.
func publishStream(t *testing.T, n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.Qos, p.MessageID, p.TopicName = 1, uint16(i+1), "vitalwire/v1/devices/d1/readings"
		p.Payload = []byte(`{"seq":1,"readings":[{"type":"heart_rate","value":72,"unit":"/min","time":"2026-03-02T10:00:00Z"}]}`)
		require.NoError(t, p.Write(&buf))
	}
	return buf.Bytes()
}

func TestTheBrokerConnectionReadsPacketsThroughABuffer(t *testing.T) {
	const n = 2000
	stream := publishStream(t, n)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(stream)
	}()
	// The connection paho gets from the ingester's open function.
	u, err := url.Parse("tcp://" + ln.Addr().String())
	require.NoError(t, err)
	conn, err := openBuffered(u, *mqtt.NewClientOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	bc, ok := conn.(*bufferedConn)
	require.True(t, ok, "a TCP broker connection is buffered")
	var reads atomic.Int64
	conn = bufferReads(countingConn{Conn: bc.Conn, reads: &reads})

	for i := range n {
		p, err := packets.ReadPacket(conn)
		require.NoError(t, err)
		require.Equal(t, uint16(i+1), p.(*packets.PublishPacket).MessageID)
	}
	t.Logf("%d packets in %d reads of the socket", n, reads.Load())
	// paho reads a packet's header a byte at a time, then its length and
	// its body: unbuffered, 4 or more reads a packet.
	require.Less(t, reads.Load(), int64(n/10), "packets are read through a buffer, not a read per field")
}
