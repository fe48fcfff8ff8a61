package telehealth

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// Measuring what the SFU adds. With Config.MeasureArrival the SFU's UDP
// sockets note when each RTP packet arrives (its SSRC and sequence number
// are in the clear in SRTP), and the forwarding delay is counted from that
// arrival (before decryption and any queueing) to the forwarded writes
// returning. Off by default: it costs a map insert per packet.

type arrivals struct {
	mu sync.Mutex
	m  map[uint64]int64
}

func arrivalKey(ssrc uint32, seq uint16) uint64 { return uint64(ssrc)<<16 | uint64(seq) }

// stamp notes an RTP packet (not RTCP, STUN or DTLS) arriving now.
func (a *arrivals) stamp(b []byte, now int64) {
	if len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
		return
	}
	k := arrivalKey(binary.BigEndian.Uint32(b[8:12]), binary.BigEndian.Uint16(b[2:4]))
	a.mu.Lock()
	if len(a.m) > 500_000 { // packets never forwarded (repairs, padding): start over
		a.m = map[uint64]int64{}
	}
	a.m[k] = now
	a.mu.Unlock()
}

// take returns and forgets when a packet arrived.
func (a *arrivals) take(ssrc uint32, seq uint16) (int64, bool) {
	k := arrivalKey(ssrc, seq)
	a.mu.Lock()
	t, ok := a.m[k]
	delete(a.m, k)
	a.mu.Unlock()
	return t, ok
}

// stampNet is the standard network whose UDP sockets stamp arrivals.
type stampNet struct {
	*stdnet.Net
	arr *arrivals
}

func newStampNet(arr *arrivals) (*stampNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &stampNet{Net: n, arr: arr}, nil
}

func (n *stampNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &stampConn{UDPConn: c, arr: n.arr}, nil
}

func (n *stampNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &stampPacketConn{PacketConn: c, arr: n.arr}, nil
}

type stampConn struct {
	transport.UDPConn
	arr *arrivals
}

func (c *stampConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(b)
	if err == nil {
		c.arr.stamp(b[:n], time.Now().UnixNano())
	}
	return n, addr, err
}

func (c *stampConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.UDPConn.ReadFromUDP(b)
	if err == nil {
		c.arr.stamp(b[:n], time.Now().UnixNano())
	}
	return n, addr, err
}

type stampPacketConn struct {
	net.PacketConn
	arr *arrivals
}

func (c *stampPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.arr.stamp(b[:n], time.Now().UnixNano())
	}
	return n, addr, err
}
