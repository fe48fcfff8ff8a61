package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheOIDCSectionNamesEachBadField(t *testing.T) {
	good := OIDCConfig{Issuer: "https://idp.hospital.example/realms/staff", ClientID: "vitalwire", RolesClaim: "roles",
		ClinicianRoles: []string{"vitalwire-clinician"}}
	require.NoError(t, good.Validate())
	require.NoError(t, OIDCConfig{}.Validate(), "off")

	for want, c := range map[string]OIDCConfig{
		"oidc.issuer: https is required":                     {Issuer: "http://idp.hospital.example", ClientID: "v", RolesClaim: "r", AdminRoles: []string{"a"}},
		"oidc.client_id: required":                           {Issuer: "https://idp", RolesClaim: "r", AdminRoles: []string{"a"}},
		"oidc.roles_claim or username_claim":                 {Issuer: "https://idp", ClientID: "v"},
		"oidc.admin_roles or clinician_roles":                {Issuer: "https://idp", ClientID: "v", RolesClaim: "roles"},
		"oidc.redirect_url: must end in /auth/oidc/callback": {Issuer: "https://idp", ClientID: "v", UsernameClaim: "u", RedirectURL: "https://vw.example/cb"},
	} {
		require.ErrorContains(t, c.Validate(), want)
	}
	loop := good
	loop.Issuer = "http://127.0.0.1:5556"
	require.NoError(t, loop.Validate(), "http on loopback, for tests")
}

func TestTheSMARTSectionNamesEachBadField(t *testing.T) {
	c := DefaultSMARTConfig()
	require.NoError(t, c.Validate())
	c.TokenURL = "https://vitalwire.hospital.example/oauth2/token"
	require.NoError(t, c.Validate())
	c.TokenURL = "http://vitalwire.hospital.example/oauth2/token"
	require.ErrorContains(t, c.Validate(), "smart.token_url: https is required")
	c.TokenURL = "https://vitalwire.hospital.example/token"
	require.ErrorContains(t, c.Validate(), "smart.token_url: must end in /oauth2/token")
	c = DefaultSMARTConfig()
	c.TokenTTL = 2 * time.Hour
	require.ErrorContains(t, c.Validate(), "smart.token_ttl")
}
