package auth

import "context"

// AlertAction decides whether c may act on an alert of patient
// (acknowledge, resolve, snooze its rule, set the patient's own levels):
// a clinical act, so a clinician the policy allows the patient, through
// the care team or break-glass (flagged). An admin reads under
// break-glass, never acts on alerts; a patient sees their own alerts only.
func (p *Policy) AlertAction(c Claims, patient string) Decision {
	if c.Role != RoleClinician {
		return Decision{}
	}
	return p.Patient(c, patient)
}

// AlertAction decides c's action on an alert of patient and audits it.
func (g *Gate) AlertAction(ctx context.Context, c Claims, patient string, q Request) (Decision, error) {
	d := g.Policy.AlertAction(c, patient)
	return d, g.record(ctx, c, patient, q, d)
}
