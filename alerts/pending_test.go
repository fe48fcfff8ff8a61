package alerts

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestKeptTransitionsAreWrittenInOrderAndSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kept.json")
	p, err := openPending(path)
	require.NoError(t, err)
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i, firing := range []bool{true, false, true} {
		require.NoError(t, p.add(Transition{Rule: Rule{ID: "spo2_low"}, Patient: "p1", Firing: firing, At: at.Add(time.Duration(i) * time.Minute)}))
	}
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := openPending(path)
	require.NoError(t, err, "a restart reads them back")
	require.Equal(t, 3, again.len())

	down := errors.New("records down")
	var seen []bool
	_, err = again.drain(func(tr Transition) (Alert, bool, error) {
		if len(seen) == 1 {
			return Alert{}, false, down
		}
		seen = append(seen, tr.Firing)
		return Alert{ID: 1, State: Firing}, true, nil
	})
	require.ErrorIs(t, err, down, "the first refusal stops the drain")
	require.Equal(t, []bool{true}, seen)
	require.Equal(t, 2, again.len(), "the refused one and those after it stay, in order")

	written, err := again.drain(func(tr Transition) (Alert, bool, error) {
		seen = append(seen, tr.Firing)
		return Alert{ID: 1}, true, nil
	})
	require.NoError(t, err)
	require.Len(t, written, 2)
	require.Equal(t, []bool{true, false, true}, seen, "in the order they happened")
	require.NoFileExists(t, path, "nothing left, nothing kept")
}

func TestKeptTransitionsAreBounded(t *testing.T) {
	p := &pending{path: filepath.Join(t.TempDir(), "kept.json"), list: make([]Transition, maxPending)}
	require.ErrorIs(t, p.add(Transition{Patient: "p1"}), ErrPendingFull)
	require.Equal(t, maxPending, p.len())
}
