// Package api tests the REST API's description as a client's tooling
// meets it: fetched from the running service and checked by an
// independent OpenAPI validator (test/node/openapi: swagger-parser).
package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/testenv"
	"github.com/vitalwire/vitalwire/test/harness"
)

func TestTheServedOpenAPIDescriptionIsValidOpenAPI31(t *testing.T) {
	t.Parallel()
	dir := testenv.NodePackages(t, filepath.Join("..", "node", "openapi"))
	s := harness.Start(t, harness.Config(t))
	resp, err := s.HTTP.Get(s.URL() + "/api/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	var spec struct {
		OpenAPI string `json:"openapi"`
		Servers []struct{ URL string }
		Paths   map[string]map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(body, &spec))
	require.Equal(t, "3.1.0", spec.OpenAPI)
	require.Equal(t, s.URL(), spec.Servers[0].URL)
	for _, p := range []string{"/api/v1/patients/{id}/readings", "/fhir/r4/metadata", "/api/openapi.json"} {
		require.Contains(t, spec.Paths, p)
	}

	run := func(doc []byte) (string, error) {
		cmd := exec.Command(testenv.NodeBinary(), "validate.js")
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(doc)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(body)
	require.NoError(t, err, out)
	require.True(t, strings.HasPrefix(out, "valid 3.1.0"), out)

	t.Run("the validator refuses a broken description", func(t *testing.T) {
		broken := bytes.Replace(body, []byte(`"in":"path"`), []byte(`"in":"nowhere"`), 1)
		require.NotEqual(t, body, broken)
		out, err := run(broken)
		require.Error(t, err, out)
		require.Contains(t, out, "invalid")
	})
}
