package auth

import (
	"errors"
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
}

// DefaultConfig is the auth configuration of a new installation.
func DefaultConfig() Config {
	return Config{TokenTTL: 12 * time.Hour, BreakGlassTTL: time.Hour, SessionIdle: 15 * time.Minute, SessionMaxAge: 12 * time.Hour,
		Audit: DefaultAuditConfig(), AccessRecheck: 5 * time.Second}
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
	return errors.Join(errs...)
}
