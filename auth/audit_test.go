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

// Nodes sharing one records database append to one chain: each append
// chains to the newest event, whoever wrote it, and appends from two
// nodes at once never take the same place.
func TestTwoNodesAppendToOneChain(t *testing.T) {
	ctx := context.Background()
	where := testenv.Records(t)
	key := bytes.Repeat([]byte{7}, 32)
	var logs []*auth.AuditLog
	for range 2 {
		db := testenv.OpenRecordsAt(t, where)
		l, err := auth.OpenAuditLog(ctx, db, auth.WithChainKey(key))
		require.NoError(t, err)
		logs = append(logs, l)
	}
	const each = 25
	errs := make(chan error, 2*each)
	done := make(chan struct{})
	for _, l := range logs {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range each {
				ev := auth.Event{Actor: "doc", Role: "clinician", Action: "GET /x", Patient: "p1", Resource: "/x",
					Outcome: auth.Allowed, Source: "node"}
				if j%5 == 4 {
					errs <- l.AppendAll(ctx, []auth.Event{ev, ev})
					continue
				}
				_, err := l.Append(ctx, ev)
				errs <- err
			}
		}()
	}
	<-done
	<-done
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	db := testenv.OpenRecordsAt(t, where)
	r, err := auth.VerifyTrail(ctx, db, auth.VerifyOptions{ChainKey: key})
	require.NoError(t, err)
	require.Empty(t, r.Findings)
	require.EqualValues(t, 2*(each+each/5), r.Events)
}
