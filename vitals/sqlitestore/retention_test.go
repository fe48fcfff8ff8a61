package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

func TestDeleteBeforeRemovesOnlyOlderReadingsInBatches(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "vitals.db"))
	require.NoError(t, err)
	defer s.Close()
	cutoff := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []vitals.Reading
	for _, p := range []string{"p1", "p2", "p3"} {
		for _, typ := range []vitals.Type{vitals.HeartRate, vitals.SpO2} {
			for i := range 25 {
				batch = append(batch, vitals.Reading{Patient: p, Device: "d-" + p, Type: typ, Value: 70,
					Time: cutoff.Add(time.Duration(i-20) * time.Minute)}) // 20 before the cutoff, 5 at or after
			}
		}
	}
	require.NoError(t, s.Write(ctx, batch))
	n, err := s.DeleteBefore(ctx, cutoff, 7)
	require.NoError(t, err)
	require.Equal(t, int64(3*2*20), n, "every reading before the cutoff, in batches of 7")
	var left, older int64
	require.NoError(t, s.db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE t < ?) FROM readings`, cutoff.UnixNano()).Scan(&left, &older))
	require.Equal(t, int64(3*2*5), left, "the readings at and after the cutoff stay")
	require.Zero(t, older)
	n, err = s.DeleteBefore(ctx, cutoff, 7)
	require.NoError(t, err)
	require.Zero(t, n, "a second pass finds nothing")
}
