package auth

import (
	"errors"
	"runtime"
	"time"
)

// Config is the auth section of the service's configuration.
type Config struct {
	// SigningKeyFile holds the hex HMAC key; created on first start.
	SigningKeyFile string `yaml:"signing_key_file"`
	// TokenTTL is the lifetime of tokens minted by the server (dev admin).
	TokenTTL time.Duration `yaml:"token_ttl"`
	// BreakGlassTTL is how long a break-glass grant lasts (default 1 h).
	BreakGlassTTL time.Duration `yaml:"break_glass_ttl"`
	// SessionIdle logs a browser session off after this long without
	// activity (default 15 min).
	SessionIdle time.Duration `yaml:"session_idle"`
	// SessionMaxAge ends a browser session this long after sign-in
	// whatever its activity (default 12 h).
	SessionMaxAge time.Duration `yaml:"session_max_age"`
	// Audit keys the audit chain and checkpoints its head (AuditConfig).
	Audit AuditConfig `yaml:"audit"`
	// AccessRecheck is how often every open socket's patients are decided
	// again with the policy, the backstop for changes that are not
	// announced (care-team changes and break-glass grants and expiries are
	// decided again at once; default 5 s).
	AccessRecheck time.Duration `yaml:"access_recheck"`

	// The front door's limits (docs/SECURITY.md). Per source address (an
	// IPv6 client's /64):
	//
	// AnonymousPerMinute and AnonymousBurst limit the requests for patient
	// data refused for want of a valid credential; past them the answer is
	// 429 with Retry-After (default 60 a minute after a burst of 30).
	AnonymousPerMinute int `yaml:"anonymous_per_minute"`
	AnonymousBurst     int `yaml:"anonymous_burst"`
	// RefusalWindow is the window over which such refusals are aggregated
	// into one audit event per source (default 1 min).
	RefusalWindow time.Duration `yaml:"refusal_window"`
	// LoginPerMinute and LoginBurst limit sign-in attempts (password,
	// sign-in link, join link): default 30 a minute after a burst of 30.
	LoginPerMinute int `yaml:"login_per_minute"`
	LoginBurst     int `yaml:"login_burst"`
	// HashConcurrency caps the password checks and hashes (argon2id,
	// 19 MiB and tens of milliseconds of a core each) running at once
	// (default: half the cores, at least 1, so that a flood of sign-ins
	// leaves the other half to everything else); a caller waits at most
	// HashWait for a slot (default 2 s), then gets 503.
	HashConcurrency int           `yaml:"hash_concurrency"`
	HashWait        time.Duration `yaml:"hash_wait"`
	// DeviceHashConcurrency caps the device-secret checks (argon2id with
	// 64 KiB, well under a millisecond) running at once (default 16).
	// They have slots of their own, so that sign-ins, however many, never
	// keep a device from connecting.
	DeviceHashConcurrency int `yaml:"device_hash_concurrency"`
	// OIDC is single sign-on through an OpenID Connect provider.
	OIDC OIDCConfig `yaml:"oidc"`
	// SMART sets the FHIR API's SMART Backend Services token endpoint.
	SMART SMARTConfig `yaml:"smart"`
}

// DefaultConfig is the auth configuration of a new installation.
func DefaultConfig() Config {
	return Config{TokenTTL: 12 * time.Hour, BreakGlassTTL: time.Hour, SessionIdle: 15 * time.Minute, SessionMaxAge: 12 * time.Hour,
		Audit: DefaultAuditConfig(), AccessRecheck: 5 * time.Second,
		AnonymousPerMinute: 60, AnonymousBurst: 30, RefusalWindow: time.Minute,
		LoginPerMinute: 30, LoginBurst: 30, HashConcurrency: max(1, runtime.NumCPU()/2), HashWait: 2 * time.Second,
		DeviceHashConcurrency: 16, SMART: DefaultSMARTConfig()}
}

// Validate checks the configuration, naming each bad field.
func (c Config) Validate() error {
	var errs []error
	bad := func(s string) { errs = append(errs, errors.New(s)) }
	if c.TokenTTL <= 0 {
		bad("token_ttl: must be positive")
	}
	if c.BreakGlassTTL <= 0 || c.BreakGlassTTL > 24*time.Hour {
		bad("break_glass_ttl: must be between 0 and 24h")
	}
	if c.SessionIdle < 10*time.Second || c.SessionIdle > 12*time.Hour {
		bad("session_idle: must be between 10s and 12h")
	}
	if c.SessionMaxAge < c.SessionIdle || c.SessionMaxAge > 7*24*time.Hour {
		bad("session_max_age: must be at least auth.session_idle and at most 168h")
	}
	if err := c.Audit.Validate(); err != nil {
		errs = append(errs, inAuditSection(err)...)
	}
	if c.AccessRecheck < 100*time.Millisecond || c.AccessRecheck > time.Minute {
		bad("access_recheck: must be between 100ms and 1m")
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"anonymous_per_minute", c.AnonymousPerMinute}, {"anonymous_burst", c.AnonymousBurst},
		{"login_per_minute", c.LoginPerMinute}, {"login_burst", c.LoginBurst}} {
		if f.v < 1 {
			bad(f.name + ": must be at least 1")
		}
	}
	if c.RefusalWindow < 100*time.Millisecond || c.RefusalWindow > time.Hour {
		bad("refusal_window: must be between 100ms and 1h")
	}
	if c.HashConcurrency < 1 || c.HashConcurrency > 256 {
		bad("hash_concurrency: must be 1-256")
	}
	if c.DeviceHashConcurrency < 1 || c.DeviceHashConcurrency > 1024 {
		bad("device_hash_concurrency: must be 1-1024")
	}
	if c.HashWait < 0 || c.HashWait > time.Minute {
		bad("hash_wait: must be between 0 and 1m")
	}
	if err := c.OIDC.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.SMART.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
