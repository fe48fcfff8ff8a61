package ingest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
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

// countingWrites counts the writes that reach the connection.
type countingWrites struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingWrites) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
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
	t.Cleanup(func() { _ = conn.Close() })

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

func TestAcknowledgementsWrittenInABurstLeaveInFewWritesAndAllBeforeTheClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	var writes atomic.Int64
	conn := bufferReads(countingWrites{Conn: raw, writes: &writes})

	// paho's outgoing goroutine: one PUBACK after another, then DISCONNECT.
	const n = 5000
	var want bytes.Buffer
	for i := range n {
		ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
		ack.MessageID = uint16(i + 1)
		var b bytes.Buffer
		require.NoError(t, ack.Write(&b))
		want.Write(b.Bytes())
		_, err := conn.Write(b.Bytes())
		require.NoError(t, err)
	}
	var b bytes.Buffer
	require.NoError(t, packets.NewControlPacket(packets.Disconnect).Write(&b))
	want.Write(b.Bytes())
	_, err = conn.Write(b.Bytes())
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	require.Equal(t, want.Bytes(), <-got, "every packet arrives, in order, before the connection closes")
	t.Logf("%d packets in %d writes to the socket", n+1, writes.Load())
	require.Less(t, writes.Load(), int64(n/2), "packets written while the socket is busy leave together")
	_, err = conn.Write([]byte{0xc0, 0})
	require.ErrorIs(t, err, net.ErrClosed)
}

// Every broker scheme paho opens is opened by the ingester's own dial
// too: a unix socket, and TLS under each of its names.
func TestTheBrokerConnectionOpensEverySchemePahoTakes(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "broker.sock")
	uln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = uln.Close() })
	go func() {
		for {
			c, err := uln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello"))
			_ = c.Close()
		}
	}()
	u, err := url.Parse("unix://" + sock)
	require.NoError(t, err)
	conn, err := openBuffered(u, *mqtt.NewClientOptions())
	require.NoError(t, err, "unix://")
	got, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
	_ = conn.Close()

	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	opts := mqtt.NewClientOptions().SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "example.com"})
	for _, scheme := range []string{"ssl", "tls", "mqtts", "mqtt+ssl", "tcps"} {
		u, err := url.Parse(scheme + "://" + srv.Listener.Addr().String())
		require.NoError(t, err)
		conn, err := openBuffered(u, *opts)
		require.NoError(t, err, scheme)
		_, ok := conn.(*bufferedConn)
		require.True(t, ok, "%s: buffered", scheme)
		_ = conn.Close()
	}
}
