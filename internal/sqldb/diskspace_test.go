package sqldb

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheDiskWatchWarnsBelowTheThresholdAndSaysWhenItIsBack(t *testing.T) {
	dir := t.TempDir()
	free, err := FreeBytes(filepath.Join(dir, "not", "made", "yet"))
	require.NoError(t, err, "a folder not made yet is measured at its parent")
	require.Positive(t, free)

	w := NewDiskWatch(DiskConfig{WarnFreeBytes: 1 << 62, CheckEvery: time.Second}, dir, dir)
	require.Len(t, w.dirs, 1)
	var lows, oks int
	w.Low = func(f, threshold int64) {
		lows++
		require.Positive(t, f)
		require.Equal(t, int64(1<<62), threshold)
	}
	w.OK = func(int64) { oks++ }
	require.EqualValues(t, -1, w.Free(), "not measured yet")
	w.Check()
	w.Check()
	require.True(t, w.IsLow())
	require.Equal(t, 1, lows, "once when it falls below, not at every check")
	require.Positive(t, w.Free())

	w.cfg.WarnFreeBytes = 1
	w.Check()
	require.False(t, w.IsLow())
	require.Equal(t, 1, oks)
}

func TestDiskConfigNamesBadFields(t *testing.T) {
	require.NoError(t, DefaultDiskConfig().Validate())
	err := DiskConfig{WarnFreeBytes: -1, CheckEvery: 0}.Validate()
	require.ErrorContains(t, err, "warn_free_bytes")
	require.ErrorContains(t, err, "check_every")
}
