package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/vitals"
)

// heldStore keeps every write waiting until release is closed, and
// remembers what was written.
type heldStore struct {
	release chan struct{}
	mu      sync.Mutex
	written []vitals.Reading
}

func (s *heldStore) Write(ctx context.Context, b []vitals.Reading) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written = append(s.written, b...)
	return nil
}

func (s *heldStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.written)
}

func startIngester(t *testing.T, st Store) *Ingester {
	in, err := New(Config{SpoolDir: t.TempDir()}, Deps{Store: st, Resolver: oneDevice{}, Log: zerolog.Nop()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { in.Run(ctx) })
	t.Cleanup(func() { cancel(); run.Wait() })
	return in
}

func TestIngestAnswersOnlyOnceDurableWithTheRefusals(t *testing.T) {
	st := &heldStore{release: make(chan struct{})}
	in := startIngester(t, st)
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	msg := []byte(`{"seq":7,"readings":[{"type":"heart_rate","value":72,"unit":"/min","time":"` + at + `"},` +
		`{"type":"heart_rate","value":72,"unit":"bpm","time":"` + at + `"}]}`)

	type answer struct {
		res Result
		err error
	}
	got := make(chan answer, 1)
	go func() {
		res, err := in.Ingest(context.Background(), "dev-1", msg)
		got <- answer{res, err}
	}()
	select {
	case a := <-got:
		t.Fatalf("answered before the store took the readings: %+v", a)
	case <-time.After(200 * time.Millisecond):
	}
	close(st.release)
	var a answer
	select {
	case a = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer within 5 s of the write")
	}
	require.NoError(t, a.err)
	require.Equal(t, 1, st.count(), "durable before the answer")
	require.NotNil(t, a.res.Seq)
	require.EqualValues(t, 7, *a.res.Seq)
	require.Equal(t, 1, a.res.Accepted)
	require.Equal(t, []Refusal{{Index: 1, Reason: vitals.ReasonWrongUnit, Detail: a.res.Refused[0].Detail}}, a.res.Refused)

	t.Run("the same message again is answered alike and not stored twice", func(t *testing.T) {
		res, err := in.Ingest(context.Background(), "dev-1", msg)
		require.NoError(t, err)
		require.Equal(t, 1, res.Accepted)
		require.Len(t, res.Refused, 1)
		require.Equal(t, 1, st.count())
	})
	t.Run("a message that is not JSON is refused whole", func(t *testing.T) {
		res, err := in.Ingest(context.Background(), "dev-1", []byte(`{"type":`))
		require.NoError(t, err)
		require.Zero(t, res.Accepted)
		require.Equal(t, -1, res.Refused[0].Index)
		require.Equal(t, vitals.ReasonMalformed, res.Refused[0].Reason)
	})
}
