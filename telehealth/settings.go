package telehealth

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// Settings configure video visits and their media (the telehealth
// section of the service's configuration).
type Settings struct {
	// STUNURLs are STUN servers for participants behind NAT, comma
	// separated (e.g. "stun:stun.example.org:3478").
	STUNURLs string `yaml:"stun_urls"`
	// TURNURLs relay media for participants no direct path reaches,
	// comma separated ("turn:host:3478?transport=udp"). With TURNSecret
	// (coturn's static-auth-secret) each participant gets short-lived
	// credentials of their own; otherwise TURNUsername and TURNCredential
	// are handed to every participant.
	TURNURLs       string `yaml:"turn_urls"`
	TURNSecret     string `yaml:"turn_secret"`
	TURNUsername   string `yaml:"turn_username"`
	TURNCredential string `yaml:"turn_credential"`
	// TURNCredentialTTL is how long a participant's TURN credential lasts
	// (0: the default, 12 h; at most 24 h). A relay's allocation is refreshed
	// with it, so it must outlast the longest visit; the embedded server
	// also ends it when its participant leaves the visit.
	TURNCredentialTTL time.Duration `yaml:"turn_credential_ttl"`
	// EmbeddedTURNAddr runs a TURN server in Vitalwire on this UDP address
	// (IP:port, the IP participants reach; "" for none). Its credentials
	// are short-lived, per participant, under a secret made at start.
	EmbeddedTURNAddr string `yaml:"embedded_turn_addr"`
	// UDPPortMin and UDPPortMax bound the media ports (0: any).
	UDPPortMin int `yaml:"udp_port_min"`
	UDPPortMax int `yaml:"udp_port_max"`
	// PublicIP is announced as the media address when the server sits
	// behind a 1:1 NAT.
	PublicIP string `yaml:"public_ip"`
	// MediaIPs, comma separated, are the only local addresses the SFU
	// takes media on and tells participants (empty: every interface's,
	// which tells a patient at home about each network the server is on:
	// container bridges, management and IPv6 ULA networks).
	MediaIPs string `yaml:"media_ips"`
	// LoopbackOnly offers only loopback media addresses (tests).
	LoopbackOnly bool `yaml:"loopback_only"`
	// JoinLinkTTL is how long a join link lasts (after the visit's
	// scheduled start; default 1 h).
	JoinLinkTTL time.Duration `yaml:"join_link_ttl"`
	// JoinLinkMaxAge bounds a join link's life from its issue, whenever
	// the visit is scheduled (default 24 h): a link for a later visit is
	// issued again nearer the time. A link also ends with its visit.
	JoinLinkMaxAge time.Duration `yaml:"join_link_max_age"`
	// AttachLookback is how far before a visit the readings attached to
	// its Encounter reach (default 24 h).
	AttachLookback time.Duration `yaml:"attach_lookback"`
	// ChatMaxChars bounds a chat message (characters; default 2,000).
	ChatMaxChars int `yaml:"chat_max_chars"`
	// ChatPerMinute is how many chat messages a participant may send in
	// any minute (default 20).
	ChatPerMinute int `yaml:"chat_per_minute"`
	// ChatMaxMessages is how many chat messages a visit keeps (default
	// 1,000); past it the chat refuses more.
	ChatMaxMessages int `yaml:"chat_max_messages"`
	// DropTo makes the connections of the participants it names lose a
	// share of what the SFU sends them: tests of the quality indicator
	// and simulcast only, never read from a configuration file.
	DropTo *LossInjection `yaml:"-"`
}

// DefaultSettings are the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{JoinLinkTTL: time.Hour, JoinLinkMaxAge: 24 * time.Hour, AttachLookback: 24 * time.Hour,
		ChatMaxChars: DefaultChatMaxChars, ChatPerMinute: DefaultChatPerMinute, ChatMaxMessages: DefaultChatMaxMessages}
}

// Validate checks the settings, naming each bad field.
func (c Settings) Validate() error {
	var errs []error
	bad := func(s string) { errs = append(errs, errors.New(s)) }
	if c.UDPPortMin < 0 || c.UDPPortMax > 65535 || c.UDPPortMin > c.UDPPortMax || (c.UDPPortMin == 0) != (c.UDPPortMax == 0) {
		bad("udp_port_min: udp_port_min and udp_port_max: both 0, or 1 <= min <= max <= 65535")
	}
	if c.JoinLinkTTL < time.Minute || c.JoinLinkTTL > 7*24*time.Hour {
		bad("join_link_ttl: must be between 1m and 168h")
	}
	if c.JoinLinkMaxAge < c.JoinLinkTTL || c.JoinLinkMaxAge > 7*24*time.Hour {
		bad("join_link_max_age: must be at least telehealth.join_link_ttl and at most 168h")
	}
	if c.AttachLookback < 0 || c.AttachLookback > 30*24*time.Hour {
		bad("attach_lookback: must be between 0 and 720h")
	}
	if c.TURNCredentialTTL != 0 && (c.TURNCredentialTTL < time.Minute || c.TURNCredentialTTL > 24*time.Hour) {
		bad("turn_credential_ttl: must be between 1m and 24h")
	}
	if c.ChatMaxChars < 0 || c.ChatMaxChars > 20000 {
		bad("chat_max_chars: must be between 0 (the default) and 20000")
	}
	if c.ChatPerMinute < 0 || c.ChatPerMinute > 600 {
		bad("chat_per_minute: must be between 0 (the default) and 600")
	}
	if c.ChatMaxMessages < 0 || c.ChatMaxMessages > 100000 {
		bad("chat_max_messages: must be between 0 (the default) and 100000")
	}
	for _, ip := range splitList(c.MediaIPs) {
		if net.ParseIP(ip) == nil {
			bad("media_ips: " + ip + " is not an IP address")
		}
	}
	if c.TURNURLs != "" && c.TURNSecret == "" && (c.TURNUsername == "" || c.TURNCredential == "") {
		bad("turn_secret: TURN needs turn_secret, or turn_username and turn_credential")
	}
	return errors.Join(errs...)
}

// Media turns the settings into the SFU's; turn issues per-participant
// TURN credentials, or is nil.
func (c Settings) Media(turn *TURNCredentials) Config {
	var servers []webrtc.ICEServer
	if c.STUNURLs != "" {
		servers = append(servers, webrtc.ICEServer{URLs: splitList(c.STUNURLs)})
	}
	if c.TURNURLs != "" && c.TURNSecret == "" {
		servers = append(servers, webrtc.ICEServer{URLs: splitList(c.TURNURLs), Username: c.TURNUsername, Credential: c.TURNCredential})
	}
	out := Config{ICEServers: servers, UDPPortMin: uint16(c.UDPPortMin), UDPPortMax: uint16(c.UDPPortMax),
		LoopbackOnly: c.LoopbackOnly, TURN: turn,
		Chat:   ChatLimits{MaxChars: c.ChatMaxChars, PerMinute: c.ChatPerMinute, MaxMessages: c.ChatMaxMessages},
		DropTo: c.DropTo}
	if c.PublicIP != "" {
		out.PublicIPs = []string{c.PublicIP}
	}
	for _, ip := range splitList(c.MediaIPs) {
		out.MediaIPs = append(out.MediaIPs, net.ParseIP(ip))
	}
	return out
}

// TURN is the issuer of per-participant TURN credentials: for the embedded
// server (on embedded, "" for none) and for an external server sharing
// turn_secret. Nil when neither is configured.
func (c Settings) TURN(embedded string) *TURNCredentials {
	var urls []string
	if embedded != "" {
		urls = append(urls, "turn:"+embedded+"?transport=udp")
	}
	if c.TURNURLs != "" && c.TURNSecret != "" {
		urls = append(urls, splitList(c.TURNURLs)...)
	}
	if len(urls) == 0 {
		return nil
	}
	ttl := c.TURNCredentialTTL
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	return NewTURNCredentials(urls, c.TURNSecret, ttl)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
