// Package layering holds the test that keeps the import graph as
// docs/ARCHITECTURE.md draws it.
package layering

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/vitalwire/vitalwire/"

// mayImport is the "may import" column of docs/ARCHITECTURE.md: the
// packages of ours each package may import (a prefix ending in "/" allows
// a folder). Packages not listed may import anything.
var mayImport = map[string][]string{
	"httpapi":            {"alerts", "telehealth", "chart", "devices", "auth", "auth/sso", "auth/smart", "live", "fhir", "vitals", "vitals/news2", "web", "measures", "rpm"},
	"measures":           {},
	"rpm":                {"chart", "telehealth", "vitals", "internal/sqldb"},
	"alerts":             {"vitals", "vitals/news2"},
	"telehealth":         {"chart", "vitals", "internal/sqldb"},
	"ingest":             {"vitals", "topic", "internal/sqldb", "ingest/gatt"},
	"ingest/gatt":        {"vitals"},
	"ingest/broker":      {"devices", "ingest", "topic", "auth", "vitals", "internal/netlimit"},
	"auth":               {},
	"chart":              {"vitals", "internal/sqldb"},
	"devices":            {"auth", "vitals", "internal/sqldb"},
	"live":               {"vitals"},
	"fhir":               {"chart", "devices", "vitals"},
	"topic":              {},
	"vitals":             {},
	"vitals/news2":       {"vitals"},
	"vitals/sqlitestore": {"vitals", "internal/sqldb"},
	"vitals/influxstore": {"vitals"},
	"web":                {},
	"simulators":         {"vitals", "vitals/news2", "topic"},
	"internal/sqldb":     {},
	"internal/netlimit":  {},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportsPointDownAsTheArchitectureSays(t *testing.T) {
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs)
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if dep == "app" {
				require.True(t, strings.HasPrefix(name, "cmd/") || strings.HasPrefix(name, "test/"),
					"%s imports app: only cmd and the whole-service tests may", name)
			}
			allowed, listed := mayImport[name]
			if !listed {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || dep == a
			}
			require.True(t, ok, "%s imports %s, which docs/ARCHITECTURE.md does not allow it", name, dep)
		}
	}
}
