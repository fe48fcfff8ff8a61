package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwire/vitalwire/internal/buildinfo"
)

// buildInfoMetric is vitalwire_build_info{version,revision,goversion} 1:
// which build each instance runs, for dashboards and upgrade checks.
func buildInfoMetric() prometheus.Collector {
	in := buildinfo.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vitalwire_build_info",
		Help:        "The running build: its version, VCS revision and Go release (always 1).",
		ConstLabels: prometheus.Labels{"version": in.Version, "revision": in.Revision, "goversion": in.GoVersion}})
	g.Set(1)
	return g
}
