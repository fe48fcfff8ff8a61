package harness

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/app"
	"github.com/vitalwire/vitalwire/auth"
)

// Signer mints tokens with the service's signing key file, as `vitalwire
// token create` does on the server's machine. The file is created on the
// service's first start.
func Signer(t testing.TB, cfg app.Config) *auth.Signer {
	t.Helper()
	cfg.Finish()
	key, err := auth.LoadOrCreateKey(cfg.Auth.SigningKeyFile)
	require.NoError(t, err)
	s, err := auth.NewSigner(key)
	require.NoError(t, err)
	return s
}

// Signer is the signer of the service's key (for tokens of an unusual
// kind, such as an expired join link).
func (s *Service) Signer() *auth.Signer { return s.signer }

// Token mints a bearer token.
func (s *Service) Token(subject string, role auth.Role, ttl time.Duration) (string, auth.Claims) {
	return s.signer.Mint(subject, role, ttl)
}

// Admin is an admin's token (subject "root"), good for the whole test.
func (s *Service) Admin() string { return s.admin }

// Clinician is a token of the clinician subject, good for an hour.
func (s *Service) Clinician(subject string) string {
	tok, _ := s.signer.Mint(subject, auth.RoleClinician, time.Hour)
	return tok
}

// Patient is a token of the patient subject, good for an hour.
func (s *Service) Patient(subject string) string {
	tok, _ := s.signer.Mint(subject, auth.RolePatient, time.Hour)
	return tok
}

// SignInLink mints a one-time link to the browser UI, as the server
// prints in dev mode.
func (s *Service) SignInLink(subject string, role auth.Role, ttl time.Duration) string {
	code, _ := s.signer.MintSignInLink(subject, role, ttl)
	return s.URL() + "/#/signin?code=" + url.QueryEscape(code)
}
