package smart

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScopesParseInTheirV1AndV2FormsAndRefuseTheRest(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"system/Observation.rs", "system/Observation.rs"},
		{"system/Observation.read", "system/Observation.rs"},
		{"system/*.read", "system/*.rs"},
		{"user/Patient.r", "user/Patient.r"},
		{"system/Encounter.*", "system/Encounter.cruds"},
		{"system/Device.cruds", "system/Device.cruds"},
	} {
		s, err := ParseScope(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, s.String())
	}
	for _, bad := range []string{"patient/Observation.rs", "system/Medication.rs", "system/Observation.sr", "system/Observation.",
		"system/Observation.rs?category=vital-signs", "openid", "system/Observation.x"} {
		_, err := ParseScope(bad)
		require.Error(t, err, bad)
	}
}

func TestAGrantIsWhatWasAskedNarrowedToWhatIsAllowedAndServed(t *testing.T) {
	parse := func(ss ...string) []Scope {
		var out []Scope
		for _, s := range ss {
			p, err := ParseScope(s)
			require.NoError(t, err)
			out = append(out, p)
		}
		return out
	}
	allowed := parse("system/Observation.rs", "system/Patient.r")
	require.Equal(t, []string{"system/Observation.rs"}, grant(parse("system/Observation.cruds"), allowed))
	require.Equal(t, []string{"system/Patient.r"}, grant(parse("system/Patient.rs"), allowed))
	require.Empty(t, grant(parse("system/*.rs"), allowed), "a wildcard is not granted from single resources")
	require.Empty(t, grant(parse("system/Encounter.rs"), allowed))
	require.Equal(t, []string{"system/*.rs"}, grant(parse("system/*.read"), parse("system/*.rs")))
}

func TestAllowsNeedsEveryResourceOfTheRoute(t *testing.T) {
	everything := []Need{{"Patient", 'r'}, {"Observation", 's'}, {"Encounter", 's'}, {"Device", 's'}}
	require.True(t, Allows("system", []string{"system/*.rs"}, everything))
	require.False(t, Allows("system", []string{"system/Patient.rs", "system/Observation.rs"}, everything))
	require.False(t, Allows("system", []string{"user/*.rs"}, everything), "another context")
	require.True(t, Allows("system", []string{"system/Observation.s"}, []Need{{"Observation", 's'}}))
	require.False(t, Allows("system", []string{"system/Observation.s"}, []Need{{"Observation", 'r'}}))
}
