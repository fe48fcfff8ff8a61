package simulators

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

func TestNEWS2BoundsSpanTheSensorsNoise(t *testing.T) {
	score := func(rr, spo2, sys, hr, temp float64) *judged {
		j := &judged{params: news2.Params{RespiratoryRate: news2.F(rr), SpO2: news2.F(spo2), Systolic: news2.F(sys),
			Pulse: news2.F(hr), Temperature: news2.F(temp), Consciousness: news2.Alert}}
		j.score = news2.Compute(j.params)
		return j
	}
	// Every parameter in the middle of its normal band: no noise moves it.
	j := score(16, 98, 130, 70, 37)
	lo, hi := j.bounds()
	require.Equal(t, scoreBound{0, false}, lo)
	require.Equal(t, scoreBound{0, false}, hi)

	// Respiratory rate 21 scores 2, but a reading 2 lower scores 0 and one
	// 4 higher 3: the margin (2/min) reaches down to 0, not up to 3.
	j = score(21, 98, 130, 70, 37)
	lo, hi = j.bounds()
	require.Equal(t, 2, j.score.Total)
	require.Equal(t, 0, lo.total)
	require.Equal(t, 2, hi.total)
	// At 23 the whole margin scores 2 or more, and 3 from 25 on.
	j = score(23, 98, 130, 70, 37)
	lo, hi = j.bounds()
	require.Equal(t, 2, lo.total)
	require.Equal(t, 3, hi.total)
	require.True(t, hi.red)
	require.False(t, lo.red)

	// The parameters add up: pulse 128 (2, within 5 of 131: up to 3) and
	// systolic 95 (2, within 12 of 90 and of 101: 1 to 3).
	j = score(16, 98, 95, 128, 37)
	lo, hi = j.bounds()
	require.Equal(t, 4, j.score.Total)
	require.Equal(t, 2+1, lo.total)
	require.Equal(t, 3+3, hi.total)
}

func TestAConditionIsEvidentAfterItsDurationAndThreeReadings(t *testing.T) {
	c := threshold("heart_rate_above_130_for_2m", 2*time.Minute, vitals.HeartRate, 130, false, false)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	feed := func(s int, hr float64, measured bool) (bool, bool) {
		return c.update(at(s), &judged{seen: Vitals{HeartRate: hr}}, measured)
	}
	// 132 holds (above 130) but is within the noise margin: the episode
	// starts after 2 minutes and never becomes evident.
	for s := 0; s <= 180; s += 15 {
		changed, evident := feed(s, 132, true)
		require.Equal(t, s == 120, changed, "starts once it held for 2 minutes, at %d s", s)
		require.False(t, evident)
	}
	require.True(t, c.holds)
	require.Equal(t, at(120), c.heldFrom)
	// 140 from 195 s, measured every 30 s: evident when it has been sure
	// for the 2 minutes, at the measurement at 315 s.
	var evidentAt []int
	for s := 195; s <= 600; s += 15 {
		_, evident := feed(s, 140, (s-195)%30 == 0)
		if evident {
			evidentAt = append(evidentAt, s)
		}
	}
	require.Equal(t, []int{315}, evidentAt, "evident once, at the first measurement after the duration")
	// Back to normal: the episode ends; a new one must become evident anew.
	changed, _ := feed(615, 100, true)
	require.True(t, changed)
	require.False(t, c.holds)
	// Measured every 150 s: two sure readings 150 s apart are not enough,
	// the third is.
	evidentAt = nil
	for s := 630; s <= 1200; s += 15 {
		_, evident := feed(s, 140, (s-630)%150 == 0)
		if evident {
			evidentAt = append(evidentAt, s)
		}
	}
	require.Equal(t, []int{930}, evidentAt)

	// A condition without a duration is evident at its first sure reading.
	low := threshold("systolic_below_90", 0, vitals.BloodPressure, 90, true, false)
	changed, evident := low.update(t0, &judged{seen: Vitals{Systolic: 70}}, true)
	require.True(t, changed)
	require.True(t, evident)
	require.True(t, low.maybe(&judged{seen: Vitals{Systolic: 100}}), "within 12 mmHg of 90: possible")
	require.False(t, low.maybe(&judged{seen: Vitals{Systolic: 103}}))
}
