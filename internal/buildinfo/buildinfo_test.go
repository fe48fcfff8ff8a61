package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInfo(t *testing.T) {
	recorded := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123def4567890abc123def4567890abc12345"},
			{Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}}}
	for _, tc := range []struct {
		name               string
		bi                 *debug.BuildInfo
		ldV, ldRev, ldDate string
		want, wantShortRev string
	}{
		{"a release build stamped with -ldflags shows what was stamped", recorded, "v1.2.0", "0123456789abcdef0123", "2026-12-02T13:00:00Z",
			"vitalwire v1.2.0 (rev 0123456789ab, built 2026-12-02T13:00:00Z, go1.26.8)", "0123456789ab"},
		{"a plain build from a changed checkout falls back to what the toolchain recorded", recorded, "", "", "",
			"vitalwire (devel) (rev abc123def456+dirty, built 2026-11-30T10:00:00Z, go1.26.8)", "abc123def456+dirty"},
		{"a build without VCS information shows only the version and Go", &debug.BuildInfo{GoVersion: "go1.26.8"}, "", "", "",
			"vitalwire (devel) (go1.26.8)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := From(tc.bi, tc.ldV, tc.ldRev, tc.ldDate)
			require.Equal(t, tc.want, in.String())
			require.Equal(t, tc.wantShortRev, in.ShortRevision())
		})
	}
}
