package news2

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// The band edges of the NEWS2 chart (../shared/DOMAIN.md), each value and
// the points it scores.
func TestEveryBandEdgeOfTheChart(t *testing.T) {
	type edge struct {
		v    float64
		want int
	}
	for _, tc := range []struct {
		param string
		fn    func(float64) int
		edges []edge
	}{
		{"respiration rate", respiration, []edge{{8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}}},
		{"SpO2 scale 1", spo2Scale1, []edge{{91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0}}},
		{"SpO2 scale 2 on air", func(v float64) int { return spo2Scale2(v, false) },
			[]edge{{83, 3}, {84, 2}, {85, 2}, {86, 1}, {87, 1}, {88, 0}, {92, 0}, {93, 0}, {97, 0}, {100, 0}}},
		{"SpO2 scale 2 on oxygen", func(v float64) int { return spo2Scale2(v, true) },
			[]edge{{83, 3}, {84, 2}, {85, 2}, {86, 1}, {87, 1}, {88, 0}, {92, 0}, {93, 1}, {94, 1}, {95, 2}, {96, 2}, {97, 3}, {100, 3}}},
		{"systolic", systolic, []edge{{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}}},
		{"pulse", pulse, []edge{{40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1}, {110, 1}, {111, 2}, {130, 2}, {131, 3}}},
		{"temperature", temperature, []edge{{35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0}, {38.0, 0}, {38.1, 1}, {39.0, 1}, {39.1, 2}}},
	} {
		for _, e := range tc.edges {
			t.Run(fmt.Sprintf("%s %v scores %d", tc.param, e.v, e.want), func(t *testing.T) {
				require.Equal(t, e.want, tc.fn(e.v))
			})
		}
	}
}

func TestCompute(t *testing.T) {
	healthy := Params{RespiratoryRate: F(16), SpO2: F(97), Systolic: F(120), Pulse: F(70), Consciousness: Alert, Temperature: F(36.8)}
	t.Run("a healthy adult on air scores 0, low", func(t *testing.T) {
		s := Compute(healthy)
		require.Equal(t, 0, s.Total)
		require.Equal(t, Low, s.Band)
		require.False(t, s.Partial)
	})
	t.Run("supplemental oxygen adds 2", func(t *testing.T) {
		p := healthy
		p.OnOxygen = true
		require.Equal(t, 2, Compute(p).Total)
	})
	t.Run("a single 3 is low-medium", func(t *testing.T) {
		p := healthy
		p.Consciousness = Confusion
		s := Compute(p)
		require.Equal(t, 3, s.Total)
		require.True(t, s.Red)
		require.Equal(t, LowMedium, s.Band)
	})
	t.Run("5 is medium and 7 is high", func(t *testing.T) {
		p := healthy
		p.Pulse = F(115)          // 2
		p.RespiratoryRate = F(22) // 2
		p.Temperature = F(38.5)   // 1
		require.Equal(t, 5, Compute(p).Total)
		require.Equal(t, Medium, Compute(p).Band)
		p.Systolic = F(105) // +1
		p.SpO2 = F(95)      // +1
		s := Compute(p)
		require.Equal(t, 7, s.Total)
		require.Equal(t, High, s.Band)
	})
	t.Run("a COPD patient at 90 % on scale 2 scores nothing for SpO2, on scale 1 three", func(t *testing.T) {
		p := healthy
		p.SpO2 = F(90)
		p.Scale = Scale2
		require.Equal(t, 0, part(Compute(p), "spo2"))
		p.Scale = Scale1
		require.Equal(t, 3, part(Compute(p), "spo2"))
	})
	t.Run("a missing parameter marks the score partial", func(t *testing.T) {
		p := healthy
		p.Systolic = nil
		p.Consciousness = ""
		s := Compute(p)
		require.True(t, s.Partial)
		_, ok := s.Part("systolic")
		require.False(t, ok)
	})
	t.Run("values are rounded to the chart's precision", func(t *testing.T) {
		p := healthy
		p.Pulse = F(90.4)
		require.Equal(t, 0, part(Compute(p), "pulse"))
		p.Pulse = F(90.5)
		require.Equal(t, 1, part(Compute(p), "pulse"))
		p.Temperature = F(38.04)
		require.Equal(t, 0, part(Compute(p), "temperature"))
		p.Temperature = F(38.05)
		require.Equal(t, 1, part(Compute(p), "temperature"))
	})
}

func part(s Score, name string) int {
	p, _ := s.Part(name)
	return p
}

func TestMissingNamesWhatAPartialScoreLacks(t *testing.T) {
	hr, rr := 70.0, 16.0
	s := Compute(Params{Pulse: &hr, RespiratoryRate: &rr})
	require.True(t, s.Partial)
	require.Equal(t, []string{"spo2", "systolic", "consciousness", "temperature"}, s.Missing())
	v := 97.0
	full := Compute(Params{Pulse: &hr, RespiratoryRate: &rr, SpO2: &v, Systolic: &v, Temperature: &v, Consciousness: Alert})
	require.False(t, full.Partial)
	require.Nil(t, full.Missing())
}
