package devices

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/test/harness"
)

// Which device measures a patient decides whose readings are whose: a
// device registered with its patient is in that patient's audit trail, as
// a later bind is.
func TestRegisteringADeviceForAPatientIsAudited(t *testing.T) {
	t.Parallel()
	s := harness.Start(t, harness.Config(t))
	s.AddPatient(t, chart.Patient{ID: "pat-1", MRN: "M-1", Name: "N", BirthDate: "1960-01-01"})
	s.MustCall(t, http.StatusCreated, "POST", "/api/v1/devices", s.Admin(),
		map[string]string{"id": "cuff-9", "kind": "cuff", "patient": "pat-1"}, nil)
	found := false
	for _, e := range s.Audit(t, "pat-1") {
		if e.Action == "POST /api/v1/devices" && e.Role == "admin" {
			found = true
		}
	}
	require.True(t, found, "no audit event names the device's registration for pat-1")

	t.Run("a malformed patient id registers nothing", func(t *testing.T) {
		code := s.Call(t, "POST", "/api/v1/devices", s.Admin(),
			map[string]string{"id": "cuff-10", "kind": "cuff", "patient": strings.Repeat("x", 65)}, nil)
		require.Equal(t, http.StatusBadRequest, code)
		require.Equal(t, http.StatusNotFound, s.Call(t, "GET", "/api/v1/devices/cuff-10", s.Admin(), nil, nil))
	})
}
