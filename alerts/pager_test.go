package alerts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPagerDataSaysWhatFiredAsItAppliesToThePatient(t *testing.T) {
	clr := 50.0
	overrides := map[string]Override{"spo2_low": {Level: 88, Clear: &clr}}
	e := NewEngine(DefaultRules(), func(p string) PatientInfo {
		if p == "copd-1" {
			return PatientInfo{Scale: 2, Overrides: overrides}
		}
		return PatientInfo{Scale: 1}
	})
	at := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	data := func(rule, patient string, value float64) PagerData {
		r, ok := e.EffectiveRule(patient, rule)
		require.True(t, ok, rule)
		return pagerData("alert.firing", Alert{ID: 7, Rule: rule, Patient: patient, Severity: r.Severity, State: Firing, FiredAt: at, Value: value},
			r, true, AlertURL("https://vw.example.org/", Alert{ID: 7, Patient: patient}))
	}
	for _, tc := range []struct {
		name, rule, patient string
		value               float64
		text                string
		threshold           Threshold
	}{
		{"a threshold rule names the vital, the value with its unit and the level", "systolic_low", "p1", 82,
			"HIGH firing: Blood pressure (systolic) 82 mmHg, < 90; patient p1; rule systolic_low", Threshold{Comparator: "<", Level: 90}},
		{"a clinician's own level for the patient is the level shown", "spo2_low", "copd-1", 86,
			"", Threshold{Comparator: "<", Level: 88, For: "2m0s"}},
		{"a NEWS2 rule names the score and its band", "news2_high", "p1", 8,
			"CRITICAL firing: NEWS2 score 8, >= 7 for 5m0s; patient p1; rule news2_high", Threshold{Comparator: ">=", Level: 7, For: "5m0s"}},
		{"a NEWS2 single-parameter rule says so, not >= 0", "news2_single_3", "p1", 3,
			"MEDIUM firing: NEWS2 score 3, a single parameter scoring 3 for 5m0s; patient p1; rule news2_single_3", Threshold{SingleParameter3: true, For: "5m0s"}},
		{"a no-data rule names the silence, not a value", "no_data_heart_rate", "p1", 0,
			"LOW firing: Heart rate, no data for 6h0m0s; patient p1; rule no_data_heart_rate", Threshold{After: "6h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := data(tc.rule, tc.patient, tc.value)
			require.NotNil(t, d.Threshold)
			require.Equal(t, tc.threshold, *d.Threshold)
			if tc.text != "" {
				require.Equal(t, tc.text, d.Text)
			}
			require.Equal(t, "https://vw.example.org/#/patients/"+tc.patient+"?alert=7", d.URL)
		})
	}
}
