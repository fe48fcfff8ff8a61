package app

import (
	"context"

	"github.com/vitalwire/vitalwire/auth/smart"
	"github.com/vitalwire/vitalwire/auth/sso"
)

// initFederation sets up who comes from outside: people through the
// hospital's OpenID Connect provider (auth.oidc), and systems through
// SMART Backend Services (the registered FHIR clients, whose reach the
// access policy decides from their care teams).
func (a *App) initFederation(ctx context.Context) error {
	var err error
	if a.smart, err = smart.Open(ctx, a.records, a.cfg.Auth.SMART, a.chart); err != nil {
		return err
	}
	a.gate.Policy.Clients = a.smart
	if !a.cfg.Auth.OIDC.Enabled() {
		return nil
	}
	a.sso, err = sso.New(a.cfg.Auth.OIDC, func() string { return a.URL() + "/auth/oidc/callback" })
	return err
}
