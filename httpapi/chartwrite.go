package httpapi

import (
	"net/http"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/telehealth"
)

// writesChart decides whether a clinician taking part in visit v may write
// its patient's chart: end the visit (which attaches the Encounter and its
// vitals summary) or attach it. Taking part is not enough: an invited
// colleague of another team is in the call only, unless the policy allows
// them the patient (break-glass flagged). A refusal, and a write under
// break-glass, are audited; on refusal it has answered.
func (a visitsAPI) writesChart(w http.ResponseWriter, r *http.Request, c auth.Claims, v telehealth.Visit, action string) bool {
	d := a.gate.Policy.Patient(c, v.Patient)
	if !d.Allowed || d.BreakGlass {
		if err := a.gate.Record(r.Context(), c, v.Patient, request(r, action), d); err != nil {
			a.auditFailed(w, err)
			return false
		}
	}
	if !d.Allowed {
		fail(w, http.StatusForbidden, "only a clinician of the patient's care writes the chart: an invited clinician takes part in the call only")
		return false
	}
	return true
}

// mayWriteChart is writesChart's decision without an answer (the visit
// socket offers ending the visit only to those it allows).
func (a visitsAPI) mayWriteChart(c auth.Claims, v telehealth.Visit) bool {
	return c.Role == auth.RoleClinician && a.gate.Policy.Patient(c, v.Patient).Allowed
}
