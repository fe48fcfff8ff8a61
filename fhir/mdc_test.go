package fhir_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/fhir"
	"github.com/vitalwire/vitalwire/vitals"
)

// mdc is the FHIR system of IEEE 11073-10101 codes, as the HL7 Personal
// Health Device implementation guide codes device observations.
const mdc = "urn:iso:std:iso:11073:10101"

func TestObservationsCarryTheIEEE11073Codes(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 30, 0, time.UTC)
	for _, tc := range []struct {
		typ  vitals.Type
		code string
	}{
		{vitals.HeartRate, "149514"},       // MDC_PULS_RATE
		{vitals.RespiratoryRate, "151562"}, // MDC_RESP_RATE
		{vitals.SpO2, "150456"},            // MDC_PULS_OXIM_SAT_O2
		{vitals.BodyTemperature, "150364"}, // MDC_TEMP_BODY
		{vitals.BloodPressure, "150020"},   // MDC_PRESS_BLD_NONINV
		{vitals.BodyWeight, "188736"},      // MDC_MASS_BODY_ACTUAL
		{vitals.BloodGlucose, "160020"},    // MDC_CONC_GLU_GEN
	} {
		t.Run(string(tc.typ)+" has MDC "+tc.code+" beside its LOINC codes", func(t *testing.T) {
			r := vitals.Reading{Device: "cuff-1", Patient: "p1", Type: tc.typ, Time: at, Value: 100, Diastolic: 60}
			o := decode[observation](t, fhir.Observation(r, "", ""))
			require.Equal(t, []string{tc.code}, o.Code.codes(mdc))
			require.NotEmpty(t, o.Code.codes(loinc), "LOINC stays")
			got, ok := fhir.CodeType(mdc + "|" + tc.code)
			require.True(t, ok, "a search by the MDC code finds the vital")
			require.Equal(t, tc.typ, got)
		})
	}
	t.Run("a blood pressure's components have MDC systolic and diastolic codes", func(t *testing.T) {
		r := vitals.Reading{Device: "cuff-1", Patient: "p1", Type: vitals.BloodPressure, Time: at, Value: 120, Diastolic: 80}
		o := decode[observation](t, fhir.Observation(r, "", ""))
		require.Len(t, o.Component, 2)
		byLOINC := map[string][]string{}
		for _, c := range o.Component {
			byLOINC[c.Code.codes(loinc)[0]] = c.Code.codes(mdc)
		}
		require.Equal(t, map[string][]string{"8480-6": {"150021"}, "8462-4": {"150022"}}, byLOINC)
	})
	t.Run("steps have no MDC code and carry none", func(t *testing.T) {
		r := vitals.Reading{Device: "band-1", Patient: "p1", Type: vitals.Steps, Time: at, Value: 12}
		o := decode[observation](t, fhir.Observation(r, "", ""))
		require.Empty(t, o.Code.codes(mdc))
	})
	t.Run("a bare number is not taken for an MDC code", func(t *testing.T) {
		_, ok := fhir.CodeType("150456")
		require.False(t, ok)
	})
}
