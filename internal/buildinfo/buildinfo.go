// Package buildinfo says which build of Vitalwire is running: the
// version, VCS revision and build date a release build stamps in with
// -ldflags, or, for a plain `go build`, what the Go toolchain recorded
// (module version, vcs.revision, vcs.time).
//
// A release build:
//
//	go build -ldflags "-X github.com/vitalwire/vitalwire/internal/buildinfo.version=v1.2.0 \
//	  -X github.com/vitalwire/vitalwire/internal/buildinfo.revision=$(git rev-parse HEAD) \
//	  -X github.com/vitalwire/vitalwire/internal/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/vitalwire
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by -ldflags -X; empty in a plain build.
var (
	version  string
	revision string
	date     string
)

// Info describes a build.
type Info struct {
	// Version is the release ("v1.2.0"), or "(devel)" for a build from a
	// checkout.
	Version string
	// Revision is the full VCS revision, "" when unknown.
	Revision string
	// Modified marks a build from a checkout with uncommitted changes.
	Modified bool
	// Date is when the build was made (RFC 3339), or the revision's
	// commit time when only the toolchain recorded one; "" when unknown.
	Date string
	// GoVersion is the Go release it was built with.
	GoVersion string
}

// Get describes the running binary.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	return From(bi, version, revision, date)
}

// From describes a build from what the toolchain recorded (bi) and what
// -ldflags stamped (which wins where set).
func From(bi *debug.BuildInfo, ldVersion, ldRevision, ldDate string) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		case "vcs.time":
			in.Date = s.Value
		}
	}
	if ldVersion != "" {
		in.Version = ldVersion
	}
	if ldRevision != "" {
		in.Revision, in.Modified = ldRevision, false
	}
	if ldDate != "" {
		in.Date = ldDate
	}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	if in.GoVersion == "" {
		in.GoVersion = runtime.Version()
	}
	return in
}

// ShortRevision is the revision's first 12 characters, "+dirty" after a
// modified checkout's.
func (in Info) ShortRevision() string {
	rev := in.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && in.Modified {
		rev += "+dirty"
	}
	return rev
}

// String is the one line `vitalwire version` prints, e.g.
// "vitalwire v1.2.0 (rev abc123def456, built 2026-12-02T13:00:00Z, go1.26.8)".
func (in Info) String() string {
	s := "vitalwire " + in.Version + " ("
	if rev := in.ShortRevision(); rev != "" {
		s += "rev " + rev + ", "
	}
	if in.Date != "" {
		s += "built " + in.Date + ", "
	}
	return fmt.Sprintf("%s%s)", s, in.GoVersion)
}
