package auth_test

import (
	"context"
	"testing"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

// BenchmarkAuditAppend is the cost of one audited access's event, on the
// engine VITALWIRE_TEST_RECORDS selects.
func BenchmarkAuditAppend(b *testing.B) {
	ctx := context.Background()
	l, err := auth.OpenAuditLog(ctx, testenv.OpenRecords(b))
	if err != nil {
		b.Fatal(err)
	}
	ev := auth.Event{Actor: "doc", Role: "clinician", Action: "GET /api/v1/patients/{id}", Patient: "p1", Resource: "/api/v1/patients/p1",
		Outcome: auth.Allowed, Source: "127.0.0.1"}
	for b.Loop() {
		if _, err := l.Append(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
