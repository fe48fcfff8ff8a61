package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/test/harness"
)

func TestFHIRClientCommandsRegisterListAndRevokeASystem(t *testing.T) {
	s := harness.Start(t, harness.Config(t))
	s.AddTeam(t, "ward", "Ward 7")
	dir := t.TempDir()
	client := []string{"--server", s.URL(), "--token", s.Admin(), "--data-dir", dir}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	write := func(name string, k any) string {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "k1", Algorithm: "ES384", Use: "sig"}}})
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}

	t.Run("a private key is refused, and nothing is registered", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"fhir-client", "add", "ehr-1", "--name", "EHR", "--jwks", write("private.json", key),
			"--scopes", "system/Observation.rs", "--care-teams", "ward"}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "a private key; register the public key only")
	})
	t.Run("a user/ scope is refused for a system", func(t *testing.T) {
		code, _, stderr := runCLI(t, append([]string{"fhir-client", "add", "ehr-1", "--name", "EHR", "--jwks", write("public.json", &key.PublicKey),
			"--scopes", "user/Observation.rs", "--care-teams", "ward"}, client...)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "is not a system/ scope")
	})
	t.Run("a public key set registers the client", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, append([]string{"fhir-client", "add", "ehr-1", "--name", "Hospital EHR", "--jwks", write("public.json", &key.PublicKey),
			"--scopes", "system/Observation.rs,system/Patient.read", "--care-teams", "ward"}, client...)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "FHIR client ehr-1 registered: scopes system/Observation.rs system/Patient.read; care teams ward")
		require.Contains(t, stdout, s.URL()+"/oauth2/token")
		code, stdout, _ = runCLI(t, append([]string{"fhir-client", "list"}, client...)...)
		require.Equal(t, 0, code)
		require.Regexp(t, `ehr-1\s+active\s+Hospital EHR`, stdout)
	})
	t.Run("revoke marks it revoked", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, append([]string{"fhir-client", "revoke", "ehr-1"}, client...)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "revoked")
		_, stdout, _ = runCLI(t, append([]string{"fhir-client", "list"}, client...)...)
		require.Regexp(t, `ehr-1\s+revoked`, stdout)
		code, _, _ = runCLI(t, append([]string{"fhir-client", "revoke", "ehr-1"}, client...)...)
		require.Equal(t, 1, code, "a second revoke finds nothing to revoke")
	})
}
