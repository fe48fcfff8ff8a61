package auth_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

type teams map[string][]string

func (t teams) ClinicianHasPatient(c, p string) bool {
	for _, x := range t[c] {
		if x == p {
			return true
		}
	}
	return false
}

func TestAProgramReportShowsAdminsEveryPatientAndCliniciansTheirTeams(t *testing.T) {
	p := &auth.Policy{Teams: teams{"doc": {"p1"}}}
	require.True(t, p.ProgramReport(auth.Claims{Subject: "root", Role: auth.RoleAdmin}, "p2").Allowed)
	require.True(t, p.ProgramReport(auth.Claims{Subject: "doc", Role: auth.RoleClinician}, "p1").Allowed)
	require.False(t, p.ProgramReport(auth.Claims{Subject: "doc", Role: auth.RoleClinician}, "p2").Allowed)
	require.False(t, p.ProgramReport(auth.Claims{Subject: "p1", Role: auth.RolePatient}, "p1").Allowed)
}

func TestAReportsEventsAreChainedInOneWriteAndVerify(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	key := make([]byte, 32)
	log, err := auth.OpenAuditLog(ctx, db, auth.WithChainKey(key))
	require.NoError(t, err)
	g := &auth.Gate{Policy: &auth.Policy{}, Audit: log}
	c := auth.Claims{Subject: "root", Role: auth.RoleAdmin}
	q := auth.Request{Action: "GET /api/v1/reports/rpm", Resource: "/api/v1/reports/rpm?month=2026-11", Source: "127.0.0.1"}
	_, err = log.Append(ctx, auth.Event{Actor: "doc", Action: "GET /x", Patient: "p0", Outcome: auth.Allowed})
	require.NoError(t, err)
	require.NoError(t, g.ProgramReport(ctx, c, []string{"p1", "p2", "p3"}, q))
	require.NoError(t, g.ProgramReport(ctx, c, nil, q), "an empty report is one event for *")
	_, err = log.Append(ctx, auth.Event{Actor: "doc", Action: "GET /y", Patient: "p1", Outcome: auth.Allowed})
	require.NoError(t, err)
	r, err := auth.VerifyTrail(ctx, db, auth.VerifyOptions{ChainKey: key})
	require.NoError(t, err)
	require.Empty(t, r.Findings)
	require.EqualValues(t, 6, r.Events)
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'GET /api/v1/reports/rpm' AND outcome = 'allowed'`).Scan(&n))
	require.Equal(t, 4, n)
	require.ErrorIs(t, g.ProgramReport(ctx, c, []string{"bad id!"}, q), auth.ErrInvalidID)
}
