package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
)

type teams struct {
	mu   sync.Mutex
	care map[[2]string]bool
}

func (t *teams) ClinicianHasPatient(c, p string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.care[[2]string{c, p}]
}

func (t *teams) set(c, p string, in bool) {
	t.mu.Lock()
	t.care[[2]string{c, p}] = in
	t.mu.Unlock()
}

func TestAHeldAccessEndsWhenThePolicyStopsAllowingIt(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	audit, err := OpenAuditLog(ctx, db)
	require.NoError(t, err)
	glass, err := OpenBreakGlass(ctx, db, 300*time.Millisecond)
	require.NoError(t, err)
	tm := &teams{care: map[[2]string]bool{{"doc", "p1"}: true}}
	g := &Gate{Policy: &Policy{Teams: tm, BreakGlass: glass}, Audit: audit}
	w := NewWatcher(nil, nil)
	w.Decide(g)
	doc := Claims{Subject: "doc", Role: RoleClinician}
	end := Request{Action: "WS end /ws/v1/live (access ended)"}

	lost := make(chan string, 2)
	h := w.Hold(doc, "p1", end, func() Decision { return g.Policy.Patient(doc, "p1") }, func(r string) { lost <- r })
	w.Changed()
	require.Empty(t, lost, "still allowed")
	tm.set("doc", "p1", false)
	w.Changed()
	require.Contains(t, <-lost, "care team")
	w.Changed()
	require.Empty(t, lost, "an access ends once")
	h.Release()

	t.Run("a break-glass grant's expiry ends it, announced by the grant", func(t *testing.T) {
		_, err := glass.Open(ctx, doc, "p2", "deteriorating, covering")
		require.NoError(t, err)
		start := time.Now()
		lost := make(chan string, 1)
		h := w.Hold(doc, "p2", end, func() Decision { return g.Policy.Patient(doc, "p2") }, func(r string) { lost <- r })
		defer h.Release()
		select {
		case r := <-lost:
			require.Contains(t, r, "break-glass")
			require.Less(t, time.Since(start), 600*time.Millisecond)
		case <-time.After(2 * time.Second):
			t.Fatal("the grant's expiry did not end the access")
		}
	})

	var buf = &countWriter{}
	_, err = audit.Export(ctx, Query{}, buf)
	require.NoError(t, err)
	require.Equal(t, 2, buf.lines, "each ending audited once")
	_, err = Verify(ctx, db)
	require.NoError(t, err)
}

type countWriter struct{ lines int }

func (c *countWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			c.lines++
		}
	}
	return len(p), nil
}
