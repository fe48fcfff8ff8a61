package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/auth"
)

func TestEveryRouteNamesWhoMayUseItAndRefusesEveryoneElse(t *testing.T) {
	signer, err := auth.NewSigner([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	other, err := auth.NewSigner([]byte(strings.Repeat("o", 32)))
	require.NoError(t, err)
	a := &App{Signer: signer, metrics: prometheus.NewRegistry()}
	h := a.routes()
	allRoles := []auth.Role{auth.RoleAdmin, auth.RoleClinician, auth.RolePatient}

	for _, r := range a.routeTable() {
		method, path, _ := strings.Cut(r.pattern, " ")
		path = strings.ReplaceAll(path, "{id}", "x1")
		if r.public {
			require.NotContains(t, path, "patients", "patient data is never public: %s", r.pattern)
			continue
		}
		require.NotEmpty(t, r.roles, r.pattern)
		call := func(token string) int {
			req := httptest.NewRequest(method, path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		t.Run(r.pattern+" refuses a missing, forged or expired token", func(t *testing.T) {
			require.Equal(t, http.StatusUnauthorized, call(""))
			forged, _ := other.Mint("x", auth.RoleAdmin, time.Hour)
			require.Equal(t, http.StatusUnauthorized, call(forged))
			expired, _ := signer.Mint("x", auth.RoleAdmin, -time.Minute)
			require.Equal(t, http.StatusUnauthorized, call(expired))
		})
		for _, role := range allRoles {
			allowed := false
			for _, x := range r.roles {
				allowed = allowed || x == role
			}
			if allowed {
				continue
			}
			t.Run(r.pattern+" forbids the "+string(role)+" role", func(t *testing.T) {
				tok, _ := signer.Mint("x", role, time.Hour)
				require.Equal(t, http.StatusForbidden, call(tok))
			})
		}
	}
	t.Run("an undeclared route is not served", func(t *testing.T) {
		tok, _ := signer.Mint("x", auth.RoleAdmin, time.Hour)
		req := httptest.NewRequest("GET", "/api/v1/secrets", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code)
	})
}
