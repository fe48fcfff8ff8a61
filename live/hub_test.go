package live

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func TestHub(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe(4), h.Subscribe(1)
	a.Add("p1")
	b.Add("p2")
	r := func(p string, v float64) vitals.Reading {
		return vitals.Reading{Patient: p, Type: vitals.HeartRate, Value: v, Time: time.Unix(0, 0)}
	}
	h.Readings([]vitals.Reading{r("p1", 1), r("p2", 2), r("p3", 3), r("p2", 4)})
	t.Run("each subscriber gets only its patients' readings", func(t *testing.T) {
		require.Equal(t, 1.0, (<-a.C).Value)
		require.Equal(t, 2.0, (<-b.C).Value)
		require.Empty(t, a.C)
	})
	t.Run("a slow subscriber loses what it has no room for, and never blocks the hub", func(t *testing.T) {
		require.EqualValues(t, 1, b.Dropped())
	})
	t.Run("a closed subscriber receives nothing more", func(t *testing.T) {
		a.Close()
		h.Readings([]vitals.Reading{r("p1", 5)})
		require.Empty(t, a.C)
	})
}

func TestRemoveEndsOnePatientsFeed(t *testing.T) {
	h := NewHub()
	s := h.Subscribe(4)
	s.Add("p1")
	s.Add("p2")
	s.Remove("p1")
	s.Remove("p1") // twice changes nothing
	h.Readings([]vitals.Reading{{Patient: "p1", Value: 1}, {Patient: "p2", Value: 2}})
	h.Publish(Event{Patient: "p1", Kind: "alert"})
	require.Equal(t, 2.0, (<-s.C).Value)
	require.Empty(t, s.C)
	require.Empty(t, s.Events)
	s.Add("p1") // allowed again
	h.Readings([]vitals.Reading{{Patient: "p1", Value: 3}})
	require.Equal(t, 3.0, (<-s.C).Value)
}
