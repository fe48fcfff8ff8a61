package auth

import (
	"errors"
	"strings"
	"time"
)

// SMARTConfig sets the FHIR API's SMART Backend Services token endpoint
// (auth.smart). Systems are registered with `vitalwire fhir-client add`.
type SMARTConfig struct {
	// TokenTTL is the lifetime of an access token (default 5 min, at
	// most 1 h): a system asks again with a fresh signed assertion.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// JWKSFetchTimeout bounds a fetch of a client's jwks_url (default 5 s).
	JWKSFetchTimeout time.Duration `yaml:"jwks_fetch_timeout"`
	// TokenURL is the token endpoint's URL as clients reach it, which
	// their assertions' aud must name exactly: behind a reverse proxy, the
	// public one (https://vitalwire.hospital.example/oauth2/token).
	// Default: the server's own URL + /oauth2/token.
	TokenURL string `yaml:"token_url"`
}

// DefaultSMARTConfig is the default token endpoint configuration.
func DefaultSMARTConfig() SMARTConfig {
	return SMARTConfig{TokenTTL: 5 * time.Minute, JWKSFetchTimeout: 5 * time.Second}
}

// Validate checks the section, naming each bad field.
func (c SMARTConfig) Validate() error {
	var errs []error
	if c.TokenTTL < 10*time.Second || c.TokenTTL > time.Hour {
		errs = append(errs, errors.New("smart.token_ttl: must be between 10s and 1h"))
	}
	if c.JWKSFetchTimeout < 100*time.Millisecond || c.JWKSFetchTimeout > 30*time.Second {
		errs = append(errs, errors.New("smart.jwks_fetch_timeout: must be between 100ms and 30s"))
	}
	if c.TokenURL != "" {
		if err := secureURL(c.TokenURL); err != nil {
			errs = append(errs, errors.New("smart.token_url: "+err.Error()))
		} else if !strings.HasSuffix(c.TokenURL, "/oauth2/token") {
			errs = append(errs, errors.New("smart.token_url: must end in /oauth2/token"))
		}
	}
	return errors.Join(errs...)
}
