package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func spoolBatch(from, n int) []vitals.Reading {
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	out := make([]vitals.Reading, n)
	for i := range out {
		k := from + i
		out[i] = vitals.Reading{Device: "d1", Patient: "p1", Type: vitals.BloodPressure, Time: base.Add(time.Duration(k) * time.Second),
			Value: float64(100 + k%50), Diastolic: float64(60 + k%20), Unit: "mm[Hg]", ReceivedTime: k%2 == 0}
	}
	return out
}

func TestSpool(t *testing.T) {
	t.Run("batches replay whole and in order, then the spool is empty", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir(), 1<<30)
		require.NoError(t, err)
		require.True(t, s.Empty())
		require.NoError(t, s.Append(spoolBatch(0, 3)))
		require.NoError(t, s.Append(spoolBatch(3, 4)))
		_, batches := s.Stats()
		require.EqualValues(t, 2, batches)
		var got []vitals.Reading
		n, err := s.Replay(func(rs []vitals.Reading) error { got = append(got, rs...); return nil }, 1000)
		require.NoError(t, err)
		require.Equal(t, 7, n)
		require.Equal(t, spoolBatch(0, 7), got)
		require.True(t, s.Empty())
		bytes, _ := s.Stats()
		require.Zero(t, bytes)
	})
	t.Run("a failed replay keeps everything for the next try", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir(), 1<<30)
		require.NoError(t, err)
		require.NoError(t, s.Append(spoolBatch(0, 5)))
		_, err = s.Replay(func([]vitals.Reading) error { return vitals.ErrUnavailable }, 1000)
		require.ErrorIs(t, err, vitals.ErrUnavailable)
		require.False(t, s.Empty())
		var got []vitals.Reading
		_, err = s.Replay(func(rs []vitals.Reading) error { got = append(got, rs...); return nil }, 1000)
		require.NoError(t, err)
		require.Len(t, got, 5)
	})
	t.Run("what was appended survives a reopen, as after kill -9", func(t *testing.T) {
		dir := t.TempDir()
		s, err := OpenSpool(dir, 1<<30)
		require.NoError(t, err)
		require.NoError(t, s.Append(spoolBatch(0, 10)))
		// No Close: the process died.
		again, err := OpenSpool(dir, 1<<30)
		require.NoError(t, err)
		_, batches := again.Stats()
		require.EqualValues(t, 1, batches)
		var got []vitals.Reading
		_, err = again.Replay(func(rs []vitals.Reading) error { got = append(got, rs...); return nil }, 1000)
		require.NoError(t, err)
		require.Equal(t, spoolBatch(0, 10), got)
	})
	t.Run("a torn record at the end is dropped and the rest replays", func(t *testing.T) {
		dir := t.TempDir()
		s, err := OpenSpool(dir, 1<<30)
		require.NoError(t, err)
		require.NoError(t, s.Append(spoolBatch(0, 4)))
		require.NoError(t, s.Append(spoolBatch(4, 4)))
		require.NoError(t, s.Close())
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		require.Len(t, segs, 1)
		st, _ := os.Stat(segs[0])
		require.NoError(t, os.Truncate(segs[0], st.Size()-7))
		again, err := OpenSpool(dir, 1<<30)
		require.NoError(t, err)
		var got []vitals.Reading
		_, err = again.Replay(func(rs []vitals.Reading) error { got = append(got, rs...); return nil }, 1000)
		require.NoError(t, err)
		require.Equal(t, spoolBatch(0, 4), got)
		require.True(t, again.Empty())
	})
	t.Run("a full spool refuses the append and keeps what it has", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir(), 600)
		require.NoError(t, err)
		require.NoError(t, s.Append(spoolBatch(0, 5)))
		err = s.Append(spoolBatch(5, 50))
		require.True(t, errors.Is(err, ErrSpoolFull))
		_, batches := s.Stats()
		require.EqualValues(t, 1, batches)
	})
	t.Run("appends during a replay go to a new segment and replay next time", func(t *testing.T) {
		s, err := OpenSpool(t.TempDir(), 1<<30)
		require.NoError(t, err)
		require.NoError(t, s.Append(spoolBatch(0, 2)))
		var got []vitals.Reading
		_, err = s.Replay(func(rs []vitals.Reading) error {
			got = append(got, rs...)
			if len(got) == 2 {
				require.NoError(t, s.Append(spoolBatch(2, 2)))
			}
			return nil
		}, 1000)
		require.NoError(t, err)
		require.Equal(t, spoolBatch(0, 4), got)
	})
}
