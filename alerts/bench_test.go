package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/vitalwire/vitalwire/vitals"
)

// BenchmarkEngine evaluates the default rule set over 10,000 patients, each
// reading one of the five NEWS2 vitals in turn, one reading per op.
func BenchmarkEngine(b *testing.B) {
	e := NewEngine(DefaultRules(), func(string) PatientInfo { return PatientInfo{Scale: 1} })
	const patients = 10_000
	ids := make([]string, patients)
	for i := range ids {
		ids[i] = fmt.Sprintf("patient-%05d", i)
	}
	types := []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate, vitals.BodyTemperature, vitals.BloodPressure}
	values := []float64{72, 97, 16, 36.8, 120}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % 5
		at := t0.Add(time.Duration(i/patients) * time.Second)
		e.Observe(vitals.Reading{Patient: ids[i%patients], Type: types[k], Time: at, Value: values[k]}, at)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkBaselines runs the default baseline rules over 10,000
// patients' overnight readings (02:00 onwards, inside their hours), one
// reading per op, as BenchmarkEngine does for the engine.
func BenchmarkBaselines(b *testing.B) {
	set := DefaultRules()
	bl := NewBaselines()
	const patients = 10_000
	ids := make([]string, patients)
	for i := range ids {
		ids[i] = fmt.Sprintf("patient-%05d", i)
	}
	types := []vitals.Type{vitals.HeartRate, vitals.SpO2, vitals.RespiratoryRate, vitals.BodyTemperature, vitals.BloodPressure}
	values := []float64{58, 96, 14, 36.6, 118}
	t0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % 5
		at := t0.Add(time.Duration(i/patients) * time.Second)
		bl.Observe(vitals.Reading{Patient: ids[i%patients], Type: types[k], Time: at, Value: values[k]}, set, nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkEngineFlood is one patient's device flooding: heart rate and
// SpO2, 500 readings a second each, noisy around normal levels, one
// reading per op, after ten simulated minutes of the same (so the state is
// at its bounded size). Its ns/op should stay within 1.25x
// BenchmarkEngine's: the cost of a reading must not grow with the rate.
func BenchmarkEngineFlood(b *testing.B) {
	e := NewEngine(DefaultRules(), func(string) PatientInfo { return PatientInfo{Scale: 1} })
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	feed := func(i int) {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		r := vitals.Reading{Patient: "patient-flood", Type: vitals.HeartRate, Time: at, Value: float64(70 + (i*7919)%23)}
		if i%2 == 1 {
			r.Type, r.Value = vitals.SpO2, float64(94+(i*104729)%6)
		}
		e.Observe(r, at)
	}
	const warm = 600_000 // ten minutes at 1,000 readings a second
	for i := range warm {
		feed(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feed(warm + i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
