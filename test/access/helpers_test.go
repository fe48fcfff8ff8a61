package access

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/httpapi"
)

// mustFragment is the fragment of a link (the UI's route).
func mustFragment(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Fragment
}

// signInCode is the code of a sign-in link, as the page posts it (still
// query-escaped, as it stands in the link).
func signInCode(t *testing.T, link string) string {
	t.Helper()
	return strings.TrimPrefix(mustFragment(t, link), "/signin?code=")
}

// liveAlert is the alert a live "alert" message carries (LiveMessage.Alert
// is decoded as plain JSON values).
type liveAlert struct {
	Rule    string `json:"rule"`
	Patient string `json:"patient"`
}

func alertOf(t *testing.T, m httpapi.LiveMessage) liveAlert {
	t.Helper()
	b, err := json.Marshal(m.Alert)
	require.NoError(t, err)
	var a liveAlert
	require.NoError(t, json.Unmarshal(b, &a))
	return a
}
