package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// OIDCConfig is single sign-on through the hospital's OpenID Connect
// provider (auth.oidc); off while Issuer is empty. Who may sign in is
// decided by the claims mapped here, deny by default: an ID token whose
// claims map to no role (and to no existing Vitalwire user) opens nothing.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL (https; http only on loopback,
	// for tests); its discovery document is read from
	// Issuer/.well-known/openid-configuration.
	Issuer string `yaml:"issuer"`
	// Name is the provider's name on the sign-in button ("Sign in with
	// Name"); default "single sign-on".
	Name     string `yaml:"name"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is best set from the environment
	// (VITALWIRE_AUTH_OIDC_CLIENT_SECRET), or read from ClientSecretFile;
	// neither: a public client (PKCE only).
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURL is this server's callback as registered at the provider:
	// <base>/auth/oidc/callback; default: derived from the server's URL.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes asked for besides openid (default profile, email).
	Scopes []string `yaml:"scopes"`
	// SubjectClaim names the claim that becomes the person's Vitalwire id
	// (default "sub"; e.g. "preferred_username" where that is stable).
	SubjectClaim string `yaml:"subject_claim"`
	// RolesClaim names a claim (a string or a list of strings) whose
	// values AdminRoles and ClinicianRoles map to Vitalwire's roles;
	// admin wins when both match.
	RolesClaim     string   `yaml:"roles_claim"`
	AdminRoles     []string `yaml:"admin_roles"`
	ClinicianRoles []string `yaml:"clinician_roles"`
	// CareTeamsClaim names a claim listing the care team ids a clinician
	// belongs to: at each sign-in the clinician's memberships are set to
	// the listed teams that exist (unknown ids are ignored). Empty: care
	// teams are managed in Vitalwire.
	CareTeamsClaim string `yaml:"care_teams_claim"`
	// UsernameClaim names a claim matched to an existing Vitalwire user's
	// username (users made with `vitalwire user set`): such a user signs
	// in as that user, with that user's id and role, when RolesClaim maps
	// to nothing.
	UsernameClaim string `yaml:"username_claim"`
}

// Enabled reports whether single sign-on is configured.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

// Secret returns the client secret (from the file when one is named).
func (c OIDCConfig) Secret() (string, error) {
	if c.ClientSecretFile == "" {
		return c.ClientSecret, nil
	}
	b, err := os.ReadFile(c.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("oidc client secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Validate checks the section, naming each bad field.
func (c OIDCConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	bad := func(s string) { errs = append(errs, errors.New("oidc."+s)) }
	if err := secureURL(c.Issuer); err != nil {
		bad("issuer: " + err.Error())
	}
	if c.RedirectURL != "" {
		if err := secureURL(c.RedirectURL); err != nil {
			bad("redirect_url: " + err.Error())
		} else if u, _ := url.Parse(c.RedirectURL); u.Path != "/auth/oidc/callback" {
			bad("redirect_url: must end in /auth/oidc/callback")
		}
	}
	if c.ClientID == "" {
		bad("client_id: required with an issuer")
	}
	if c.ClientSecret != "" && c.ClientSecretFile != "" {
		bad("client_secret_file: set either it or client_secret, not both")
	}
	if c.RolesClaim == "" && c.UsernameClaim == "" {
		bad("roles_claim or username_claim: one is required (nothing would map a person to a role)")
	}
	if c.RolesClaim != "" && len(c.AdminRoles)+len(c.ClinicianRoles) == 0 {
		bad("admin_roles or clinician_roles: required with roles_claim")
	}
	if len(c.Name) > 60 {
		bad("name: at most 60 characters")
	}
	return errors.Join(errs...)
}

// secureURL accepts an absolute https URL, or http on a loopback host.
func secureURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("an absolute URL without query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return errors.New("https is required (http only on loopback)")
}
