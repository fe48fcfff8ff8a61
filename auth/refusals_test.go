package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
)

func testRefusals(t *testing.T, window time.Duration) (*Refusals, *AuditLog, *time.Time) {
	db, err := testenv.Records(t).Open(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	log, err := OpenAuditLog(context.Background(), db)
	require.NoError(t, err)
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	r := NewRefusals(log, window)
	r.now = func() time.Time { return now }
	return r, log, &now
}

func auditEvents(t *testing.T, l *AuditLog) []Event {
	var b strings.Builder
	_, err := l.Export(context.Background(), Query{}, &b)
	require.NoError(t, err)
	var out []Event
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var e Event
		require.NoError(t, json.Unmarshal([]byte(line), &e))
		out = append(out, e)
	}
	return out
}

func TestRefusalsWriteTheFirstAtOnceAndCountTheRestPerSourceAndWindow(t *testing.T) {
	ctx := context.Background()
	r, l, now := testRefusals(t, time.Minute)
	q := func(src string) Request { return Request{Action: "GET /x/{id}", Resource: "/x/p1", Source: src} }
	for i := range 100 {
		require.NoError(t, r.Refuse(ctx, "p1", q("192.0.2.1"), i >= 50))
	}
	require.NoError(t, r.Refuse(ctx, "p2", q("192.0.2.2"), false))
	evs := auditEvents(t, l)
	require.Len(t, evs, 2, "the first refusal of each source, at once")
	require.Equal(t, "anonymous", evs[0].Actor)
	require.Equal(t, "p1", evs[0].Patient)

	require.NoError(t, r.Flush(ctx, false))
	require.Len(t, auditEvents(t, l), 2, "the window has not ended")
	*now = (*now).Add(time.Minute)
	require.NoError(t, r.Flush(ctx, false))
	evs = auditEvents(t, l)
	require.Len(t, evs, 3, "one aggregate for the source with more than one refusal")
	agg := evs[2]
	require.Equal(t, ActionAggregated, agg.Action)
	require.Equal(t, Refused, agg.Outcome)
	require.Equal(t, "192.0.2.1", agg.Source)
	require.Equal(t, "p1", agg.Patient, "all about one patient: in that patient's trail")
	require.Contains(t, agg.Resource, "count=99 limited=50 ")
	require.Equal(t, uint64(101), r.Total())

	n, err := Verify(ctx, l.db)
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "the aggregate is on the chain like any event")
}

func TestAnAggregateNamesAFewPatientsAndCountsTheOthers(t *testing.T) {
	ctx := context.Background()
	r, l, _ := testRefusals(t, time.Minute)
	for i := range 20 {
		require.NoError(t, r.Refuse(ctx, "p"+string(rune('a'+i)), Request{Source: "192.0.2.1"}, false))
	}
	require.NoError(t, r.Flush(ctx, true))
	evs := auditEvents(t, l)
	require.Len(t, evs, 2)
	require.Empty(t, evs[1].Patient, "several patients")
	require.Contains(t, evs[1].Resource, "count=19 ")
	require.Contains(t, evs[1].Resource, "patients=pb,pc,pd,pe,pf,pg,ph,pi others=11")
}

func TestAnAggregateThatCannotBeWrittenIsKeptForTheNextFlush(t *testing.T) {
	ctx := context.Background()
	r, l, _ := testRefusals(t, time.Minute)
	for range 3 {
		require.NoError(t, r.Refuse(ctx, "p1", Request{Source: "192.0.2.1"}, false))
	}
	unjam := testenv.JamInserts(t, l.db, "audit_events")
	require.Error(t, r.Flush(ctx, true))
	require.Error(t, r.Refuse(ctx, "p1", Request{Source: "192.0.2.9"}, false), "a first refusal that cannot be audited fails")
	unjam()
	require.NoError(t, r.Flush(ctx, true))
	evs := auditEvents(t, l)
	require.Len(t, evs, 2)
	require.Contains(t, evs[1].Resource, "count=2 ")
}

func TestAnInvalidIdIsNeverWrittenNorCounted(t *testing.T) {
	r, l, _ := testRefusals(t, time.Minute)
	require.ErrorIs(t, r.Refuse(context.Background(), strings.Repeat("a", 65), Request{Source: "192.0.2.1"}, false), ErrInvalidID)
	require.Empty(t, auditEvents(t, l))
}
