package broker

import (
	"errors"
	"time"

	"github.com/vitalwire/vitalwire/internal/netlimit"
)

// ContractPayloadBytes is the largest readings payload of the MQTT
// contract (docs/ARCHITECTURE.md): 64 KiB.
const ContractPayloadBytes = 64 << 10

// Limits bound what a connection, before and after it authenticates, can
// make the broker hold. The same limits apply to the TCP and the WebSocket
// listener; the connection caps count each listener on its own.
type Limits struct {
	// MaxConnections caps the connections open at once on a listener
	// (0: no cap).
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerSource caps what one IP address (IPv6: one /64)
	// holds open at once (0: no cap). Devices behind one NAT share it.
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
	// ConnectRatePerSource is how many new connections a second one
	// address may open on average, in bursts of ConnectBurstPerSource
	// (0: no limit).
	ConnectRatePerSource  float64 `yaml:"connect_rate_per_source"`
	ConnectBurstPerSource int     `yaml:"connect_burst_per_source"`
	// ConnectTimeout is how long a new connection has to deliver its
	// CONNECT packet (and finish its TLS handshake).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxConnectBytes bounds the CONNECT packet, checked from its fixed
	// header before the broker reads it: credentials, client id and a
	// last will no larger than a status message.
	MaxConnectBytes int `yaml:"max_connect_bytes"`
	// MaxPacketBytes bounds every other packet, also checked before it is
	// read: the contract's 64 KiB payload plus room for the topic and
	// properties.
	MaxPacketBytes int `yaml:"max_packet_bytes"`
	// MaxStatusBytes bounds a status message and a last will; a larger
	// one is acknowledged and dropped, neither retained nor delivered.
	MaxStatusBytes int `yaml:"max_status_bytes"`
	// MaxKeepAlive is the longest keep-alive a client may use; a client
	// asking for more, or for none, is held to it (MQTT 5 clients are told)
	// and cut off after 1.5 times it in silence.
	MaxKeepAlive time.Duration `yaml:"max_keep_alive"`
}

// DefaultLimits are production limits for a fleet of up to 10,000 devices
// per listener with headroom.
func DefaultLimits() Limits {
	return Limits{
		MaxConnections:          20_000,
		MaxConnectionsPerSource: 500,
		ConnectRatePerSource:    20,
		ConnectBurstPerSource:   200,
		ConnectTimeout:          10 * time.Second,
		MaxConnectBytes:         8 << 10,
		MaxPacketBytes:          ContractPayloadBytes + 4<<10,
		MaxStatusBytes:          4 << 10,
		MaxKeepAlive:            5 * time.Minute,
	}
}

// Validate reports settings that cannot work, each naming its field.
func (l Limits) Validate() error {
	errs := []error{l.conns().Validate()}
	if l.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("connect_timeout: must be positive"))
	}
	if l.MaxStatusBytes < 64 {
		errs = append(errs, errors.New("max_status_bytes: must be 64 or more"))
	}
	if l.MaxConnectBytes < l.MaxStatusBytes+512 {
		errs = append(errs, errors.New("max_connect_bytes: must leave room for a last will of max_status_bytes and credentials (max_status_bytes + 512 or more)"))
	}
	if l.MaxPacketBytes < ContractPayloadBytes+256 {
		errs = append(errs, errors.New("max_packet_bytes: must carry the contract's 64 KiB payload with its topic (65,792 or more)"))
	}
	if l.MaxPacketBytes > 256<<20 {
		errs = append(errs, errors.New("max_packet_bytes: MQTT packets end at 256 MiB"))
	}
	if l.MaxKeepAlive < 10*time.Second || l.MaxKeepAlive > 65535*time.Second {
		errs = append(errs, errors.New("max_keep_alive: must be 10s-18h12m15s"))
	}
	return errors.Join(errs...)
}

// conns is the listeners' share of the limits.
func (l Limits) conns() netlimit.Config {
	return netlimit.Config{
		MaxConns: l.MaxConnections, MaxConnsPerSource: l.MaxConnectionsPerSource,
		RatePerSource: l.ConnectRatePerSource, BurstPerSource: l.ConnectBurstPerSource,
	}
}
