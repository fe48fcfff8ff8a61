package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

func TestTheAuditChain(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	log, err := auth.OpenAuditLog(ctx, db)
	require.NoError(t, err)
	for i := 0; i < 8; i++ {
		patient := []string{"p1", "p2"}[i%2]
		_, err := log.Append(ctx, auth.Event{Actor: "doc", Role: "clinician", Action: "GET /x", Patient: patient,
			Resource: "/x", Outcome: auth.Allowed, Source: "127.0.0.1"})
		require.NoError(t, err)
	}

	t.Run("an untouched log verifies", func(t *testing.T) {
		n, err := auth.Verify(ctx, db)
		require.NoError(t, err)
		require.EqualValues(t, 8, n)
	})
	t.Run("a reopened log keeps chaining", func(t *testing.T) {
		again, err := auth.OpenAuditLog(ctx, db)
		require.NoError(t, err)
		_, err = again.Append(ctx, auth.Event{Actor: "doc", Action: "GET /y", Patient: "p1", Outcome: auth.Refused})
		require.NoError(t, err)
		n, err := auth.Verify(ctx, db)
		require.NoError(t, err)
		require.EqualValues(t, 9, n)
	})
	t.Run("export selects a patient and a time range as JSON lines", func(t *testing.T) {
		var buf bytes.Buffer
		n, err := auth.Export(ctx, db, auth.Query{Patient: "p2", From: time.Now().Add(-time.Hour)}, &buf)
		require.NoError(t, err)
		require.Equal(t, 4, n)
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var e auth.Event
			require.NoError(t, json.Unmarshal([]byte(line), &e))
			require.Equal(t, "p2", e.Patient)
		}
		n, err = auth.Export(ctx, db, auth.Query{To: time.Now().Add(-time.Hour)}, &buf)
		require.NoError(t, err)
		require.Zero(t, n)
	})
	t.Run("every edited row is named", func(t *testing.T) {
		_, err := db.Exec(`UPDATE audit_events SET outcome = 'allowed' WHERE seq = 9`)
		require.NoError(t, err)
		_, err = db.Exec(`UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3`)
		require.NoError(t, err)
		_, err = auth.Verify(ctx, db)
		var tampered *auth.TamperError
		require.ErrorAs(t, err, &tampered)
		require.Equal(t, []auth.Finding{
			{Kind: auth.FindingEdited, Seq: 3, Detail: "event 3: its content does not match its hash"},
			{Kind: auth.FindingEdited, Seq: 9, Detail: "event 9: its content does not match its hash"},
		}, tampered.Findings)
	})
	t.Run("a deleted row is named as a gap", func(t *testing.T) {
		_, err := db.Exec(`UPDATE audit_events SET actor = 'doc' WHERE seq = 3`)
		require.NoError(t, err)
		_, err = db.Exec(`UPDATE audit_events SET outcome = 'refused' WHERE seq = 9`)
		require.NoError(t, err)
		_, err = db.Exec(`DELETE FROM audit_events WHERE seq = 5`)
		require.NoError(t, err)
		_, err = auth.Verify(ctx, db)
		var tampered *auth.TamperError
		require.ErrorAs(t, err, &tampered)
		require.Equal(t, []auth.Finding{{Kind: auth.FindingDeleted, Seq: 5, Detail: "event 5 is missing (deleted)"}}, tampered.Findings)
	})
}

func TestTheIssuerOfACredentialIsPartOfTheChain(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	defer db.Close()
	log, err := auth.OpenAuditLog(ctx, db)
	require.NoError(t, err)
	_, err = log.Append(ctx, auth.Event{Actor: "doc", Role: "clinician", Action: "GET /x", Patient: "p1", Outcome: auth.Allowed})
	require.NoError(t, err)
	_, err = log.Append(ctx, auth.Event{Actor: "doc", Role: "clinician", Action: "GET /x", Patient: "p1", Outcome: auth.Allowed,
		IssuedBy: "root"})
	require.NoError(t, err)
	_, err = auth.Verify(ctx, db)
	require.NoError(t, err, "events with and without an issuer verify")
	_, err = db.Exec(`UPDATE audit_events SET issued_by = '' WHERE seq = 2`)
	require.NoError(t, err)
	_, err = auth.Verify(ctx, db)
	var tampered *auth.TamperError
	require.ErrorAs(t, err, &tampered, "erasing who issued the credential is detected")
	require.NotEmpty(t, tampered.Findings)
	require.EqualValues(t, 2, tampered.Findings[0].Seq)
}
