package harness

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
)

// The fixture builders set the service up through its admin API, as the
// admin pages and the CLI do.

// AddPatient charts a patient.
func (s *Service) AddPatient(t testing.TB, p chart.Patient) {
	t.Helper()
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/patients", s.admin, p, nil)
}

// AddTeam creates a care team.
func (s *Service) AddTeam(t testing.TB, id, name string) {
	t.Helper()
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/care-teams", s.admin, map[string]string{"id": id, "name": name}, nil)
}

// AddMember adds a member to a care team: kind is clinician, patient or
// escalation (a clinician of the team who is paged).
func (s *Service) AddMember(t testing.TB, team, kind, member string) {
	t.Helper()
	s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/care-teams/"+team+"/members", s.admin,
		map[string]string{"kind": kind, "member": member}, nil)
}

// RemoveMember removes a member from a care team.
func (s *Service) RemoveMember(t testing.TB, team, kind, member string) {
	t.Helper()
	s.MustCall(t, http.StatusNoContent, "DELETE", "/api/v1/care-teams/"+team+"/members", s.admin,
		map[string]string{"kind": kind, "member": member}, nil)
}

// Teams lists the care teams with their members.
func (s *Service) Teams(t testing.TB) []chart.Team {
	t.Helper()
	var out []chart.Team
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/care-teams", s.admin, nil, &out)
	return out
}

// AddDevice registers a device of no stated kind and, when patient is set,
// binds it to the patient from a day back. It returns the device's secret.
func (s *Service) AddDevice(t testing.TB, id, patient string) string {
	t.Helper()
	return s.AddDeviceFrom(t, id, "", patient, time.Now().Add(-24*time.Hour))
}

// AddDeviceFrom registers a device bound to patient ("" for none) from a
// time, and returns its secret (shown this once).
func (s *Service) AddDeviceFrom(t testing.TB, id, kind, patient string, from time.Time) string {
	t.Helper()
	req := map[string]any{"id": id, "kind": kind}
	if patient != "" {
		req["patient"], req["bound_from"] = patient, from
	}
	var out struct{ Secret string }
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/devices", s.admin, req, &out)
	require.NotEmpty(t, out.Secret, "a new device's secret")
	return out.Secret
}

// Bind binds a device to a patient from a time.
func (s *Service) Bind(t testing.TB, device, patient string, at time.Time) {
	t.Helper()
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/devices/"+device+"/bind", s.admin,
		map[string]any{"patient": patient, "at": at}, nil)
}

// RevokeDevice revokes a device's credentials.
func (s *Service) RevokeDevice(t testing.TB, device string) {
	t.Helper()
	s.MustCall(t, http.StatusOK, "POST", "/api/v1/devices/"+device+"/revoke", s.admin, nil, nil)
}

// Device is the registry's answer about a device.
func (s *Service) Device(t testing.TB, id string) devices.Device {
	t.Helper()
	var d devices.Device
	s.MustCall(t, http.StatusOK, "GET", "/api/v1/devices/"+id, s.admin, nil, &d)
	return d
}

// RevokeToken revokes a token as an admin: refused at once everywhere.
func (s *Service) RevokeToken(t testing.TB, token string) {
	t.Helper()
	s.MustCall(t, http.StatusNoContent, "POST", "/api/v1/tokens/revoke", s.admin, map[string]string{"token": token}, nil)
}

// Ward charts three patients: Ada (p1) and Ben (p2) in the ward of doc1
// and doc2, Cy (p3) in another team of doc3. Each wears a watch
// (watch-p1...) connected to the service's broker.
func (s *Service) Ward(t testing.TB) map[string]*Device {
	t.Helper()
	for _, p := range []chart.Patient{
		{ID: "p1", MRN: "MRN-001", Name: "Ada Lovelace", BirthDate: "1950-12-10", SpO2Scale: 1},
		{ID: "p2", MRN: "MRN-002", Name: "Ben Franklin", BirthDate: "1946-01-17", SpO2Scale: 1},
		{ID: "p3", MRN: "MRN-003", Name: "Cy Young", BirthDate: "1967-03-29", SpO2Scale: 1},
	} {
		s.AddPatient(t, p)
	}
	s.AddTeam(t, "ward", "Ward 7")
	s.AddTeam(t, "other", "Ward 9")
	for _, m := range [][3]string{{"ward", "clinician", "doc1"}, {"ward", "clinician", "doc2"}, {"ward", "patient", "p1"},
		{"ward", "patient", "p2"}, {"other", "clinician", "doc3"}, {"other", "patient", "p3"}} {
		s.AddMember(t, m[0], m[1], m[2])
	}
	out := map[string]*Device{}
	for _, p := range []string{"p1", "p2", "p3"} {
		secret := s.AddDevice(t, "watch-"+p, p)
		out[p] = Connect(t, s.BrokerURL(), "watch-"+p, secret)
	}
	return out
}
