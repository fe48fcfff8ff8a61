package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestPatientAndDeviceAddTakeGenderNamePartsAndManufacturer(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	client := []string{"--server", s.URL(), "--token", s.Admin(), "--data-dir", t.TempDir()}

	t.Run("patient add records the gender and the name's parts", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"patient", "add", "pt-1", "--mrn", "MRN-1", "--name", "Ada Augusta Lovelace",
			"--birth-date", "1950-12-10", "--gender", "female", "--family", "Lovelace", "--given", "Ada", "--given", "Augusta"}, client...)...)
		require.Equal(t, 0, code, stderr)
		var ps []chart.Patient
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/patients", s.Admin(), nil, &ps)
		require.Len(t, ps, 1)
		p := ps[0]
		require.Equal(t, "female", p.Gender)
		require.Equal(t, "Lovelace", p.Family)
		require.Equal(t, []string{"Ada", "Augusta"}, p.Given)
		require.Equal(t, "Ada Augusta Lovelace", p.Name)
		code, stdout, _ := runCLI(t, append([]string{"patient", "list"}, client...)...)
		require.Equal(t, 0, code)
		require.Regexp(t, `pt-1\s+MRN-1\s+Ada Augusta Lovelace\s+1950-12-10\s+female`, stdout)
	})
	t.Run("a gender FHIR does not know is refused, naming the field", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"patient", "add", "pt-2", "--mrn", "MRN-2", "--name", "B", "--birth-date", "1950-12-10",
			"--gender", "F"}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "gender: one of male, female, other, unknown")
	})
	t.Run("device add records the manufacturer, and the list shows it", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"device", "add", "cuff-1", "--kind", "cuff", "--manufacturer", "Omron Healthcare",
			"--model", "BP7000", "--serial", "SN-9"}, client...)...)
		require.Equal(t, 0, code, stderr)
		var d devices.Device
		s.MustCall(t, http.StatusOK, "GET", "/api/v1/devices/cuff-1", s.Admin(), nil, &d)
		require.Equal(t, "Omron Healthcare", d.Manufacturer)
		require.Equal(t, "BP7000", d.Model)
		require.Equal(t, "SN-9", d.Serial)
		code, stdout, _ := runCLI(t, append([]string{"device", "list"}, client...)...)
		require.Equal(t, 0, code)
		require.Regexp(t, `cuff-1\s+cuff\s+.*SN-9\s+BP7000\s+Omron Healthcare`, stdout)
	})
	t.Run("a manufacturer past 64 characters is refused and no device is added", func(t *testing.T) {
		long := "Omron Healthcare Omron Healthcare Omron Healthcare Omron Healthcare"
		code, _, stderr := runCLI(t, append([]string{"device", "add", "cuff-2", "--kind", "cuff", "--manufacturer", long}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "manufacturer: at most 64 characters")
		s.MustCall(t, http.StatusNotFound, "GET", "/api/v1/devices/cuff-2", s.Admin(), nil, nil)
	})
}
