package smart

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/internal/testenv"
)

const tokenURL = "https://vitalwire.test/oauth2/token"

// TestAClientsKeysAreFetchedFromItsHTTPSJWKSURLWithinBounds: the keys of
// a client registered with a jwks_url are fetched over https (a real TLS
// server), and a key set too large, a redirect, or a plain-http URL are
// refused.
func TestAClientsKeysAreFetchedFromItsHTTPSJWKSURLWithinBounds(t *testing.T) {
	ctx := context.Background()
	db, err := testenv.Records(t).Open(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES384", Use: "sig"}}})
	require.NoError(t, err)
	fetched := 0
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jwks":
			fetched++
			w.Write(set)
		case "/huge":
			w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKS) + `]}`))
		case "/moved":
			http.Redirect(w, r, "/jwks", http.StatusFound)
		}
	}))
	t.Cleanup(ts.Close)
	s, err := Open(ctx, db, auth.DefaultSMARTConfig(), nil)
	require.NoError(t, err)
	s.fetch.Transport = ts.Client().Transport // trust the test server's certificate

	sign := func(client string) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		require.NoError(t, err)
		now := time.Now()
		a, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: client, Subject: client, Audience: jwt.Audience{tokenURL},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), ID: client + now.String()}).Serialize()
		require.NoError(t, err)
		return a
	}
	req := func(client string) TokenRequest {
		return TokenRequest{GrantType: GrantType, AssertionType: AssertionType, Assertion: sign(client), Scope: "system/Observation.rs"}
	}
	for _, c := range []Client{
		{ID: "good", JWKSURL: ts.URL + "/jwks"}, {ID: "huge", JWKSURL: ts.URL + "/huge"}, {ID: "moved", JWKSURL: ts.URL + "/moved"},
	} {
		c.Name, c.Scopes, c.CareTeams = "EHR", []string{"system/Observation.rs"}, []string{"ward"}
		_, err := s.Add(ctx, c, "admin")
		require.NoError(t, err)
	}

	tok, client, err := s.Issue(ctx, req("good"), tokenURL)
	require.NoError(t, err)
	require.Equal(t, "good", client)
	require.Equal(t, "system/Observation.rs", tok.Scope)
	_, _, err = s.Issue(ctx, req("good"), tokenURL)
	require.NoError(t, err)
	require.Equal(t, 1, fetched, "the key set is kept a few minutes")

	for _, id := range []string{"huge", "moved"} {
		_, _, err := s.Issue(ctx, req(id), tokenURL)
		var oe *Error
		require.True(t, errors.As(err, &oe), id)
		require.Equal(t, "invalid_client", oe.Code, id)
		require.Contains(t, oe.Description, "keys could not be read", id)
	}

	plain := Client{ID: "plain", Name: "EHR", JWKSURL: "http://ehr.example/jwks", Scopes: []string{"system/Observation.rs"}, CareTeams: []string{"ward"}}
	require.ErrorContains(t, plain.Validate(), "jwks_url: an https URL")
}
