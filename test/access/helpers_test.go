package access

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
