package sso

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
)

func TestClaimsMapToAPersonOrToNothing(t *testing.T) {
	rp := &RP{cfg: auth.OIDCConfig{RolesClaim: "roles", AdminRoles: []string{"vw-admin"}, ClinicianRoles: []string{"vw-clin"},
		CareTeamsClaim: "teams", UsernameClaim: "preferred_username"}}
	users := func(_ context.Context, name string) (auth.User, bool) {
		switch name {
		case "nurse.joy":
			return auth.User{Username: name, Subject: "joy", Role: auth.RoleClinician}, true
		case "gone":
			return auth.User{Username: name, Subject: "gone", Role: auth.RoleClinician, Disabled: true}, true
		case "pat":
			return auth.User{Username: name, Subject: "pat", Role: auth.RolePatient}, true
		}
		return auth.User{}, false
	}
	ctx := context.Background()

	id, err := rp.Map(ctx, Claims{"sub": "u-1", "roles": []any{"vw-clin", "other"}, "teams": []any{"ward", "bad id!", "icu"}}, users)
	require.NoError(t, err)
	require.Equal(t, Identity{Subject: "u-1", Role: auth.RoleClinician, Teams: []string{"ward", "icu"}, HasTeams: true}, id)

	id, err = rp.Map(ctx, Claims{"sub": "u-2", "roles": "vw-admin"}, users)
	require.NoError(t, err)
	require.Equal(t, auth.RoleAdmin, id.Role)
	require.False(t, id.HasTeams, "care teams are a clinician's")

	id, err = rp.Map(ctx, Claims{"sub": "x", "preferred_username": "nurse.joy"}, users)
	require.NoError(t, err)
	require.Equal(t, Identity{Subject: "joy", Role: auth.RoleClinician, HasTeams: true}, id, "an existing user by username")

	for name, c := range map[string]Claims{
		"no roles, no user":           {"sub": "x"},
		"a role of no mapping":        {"sub": "x", "roles": []any{"staff"}},
		"a disabled user":             {"sub": "x", "preferred_username": "gone"},
		"a patient's account":         {"sub": "x", "preferred_username": "pat"},
		"a subject that is not an id": {"sub": "no spaces allowed", "roles": "vw-clin"},
	} {
		_, err := rp.Map(ctx, c, users)
		require.ErrorIs(t, err, ErrNotMapped, name)
	}
}

func TestTheCallbackStateIsBoundToTheBrowserAndUsedOnce(t *testing.T) {
	rp := &RP{pending: map[string]pending{}, now: func() time.Time { return time.Unix(1000, 0) }}
	rp.pending["s1"] = pending{verifier: "v", nonce: "n", binding: sha256.Sum256([]byte("b1")), expires: time.Unix(2000, 0)}
	_, err := rp.take("s1", "another browser")
	require.ErrorIs(t, err, ErrWrongBrowser)
	pd, err := rp.take("s1", "b1")
	require.NoError(t, err)
	require.Equal(t, "v", pd.verifier)
	_, err = rp.take("s1", "b1")
	require.ErrorIs(t, err, ErrUnknownState, "used once")
	rp.pending["s2"] = pending{binding: sha256.Sum256([]byte("b2")), expires: time.Unix(999, 0)}
	_, err = rp.take("s2", "b2")
	require.ErrorIs(t, err, ErrUnknownState, "expired")
}
