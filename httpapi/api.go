// Package httpapi is Vitalwire's HTTP interface: the REST API, the FHIR R4
// read API, the live and visit WebSockets and the browser UI's files. It
// owns the route table (declarative, deny by default: each route names the
// roles it allows, or that it is about the patient {id}, whom the access
// gate decides and audits), the mapping of domain errors to statuses, and
// the request and response types its clients (the CLI, the tests) import.
// Handlers take their services from Deps; no handler decides access on its
// own: the auth.Gate does.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/auth/smart"
	"github.com/vitalwire/vitalwire/auth/sso"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// Deps are the services the handlers use. Every field is required except
// where said.
type Deps struct {
	Log     zerolog.Logger
	Metrics prometheus.Gatherer
	// BaseURL is the server's own URL, for links it hands out.
	BaseURL func() string
	// Secure marks cookies Secure (the server speaks HTTPS).
	Secure bool

	Signer   *auth.Signer
	Sessions *auth.Sessions
	Revoked  *auth.Revocations
	Glass    *auth.BreakGlass
	Audit    *auth.AuditLog
	Gate     *auth.Gate
	Watcher  *auth.Watcher

	Devices *devices.Registry
	// DeviceLimits bound bulk enrolments and the device list's pages
	// (zero: devices.DefaultConfig).
	DeviceLimits devices.Config
	// Disconnect drops a device's broker connection (revocation); nil
	// with an external broker.
	Disconnect func(device string)
	Chart      *chart.Chart
	Encounters *chart.Encounters
	Store      vitals.Store
	Alerts     *alerts.Service
	// ReloadRules reads the rules file again and swaps it in.
	ReloadRules func() (int, error)
	Hub         *live.Hub

	Visits   *telehealth.Visits
	SFU      *telehealth.SFU
	Recorder *telehealth.Recorder
	// JoinLinkTTL is how long a visit's join link lasts after its start.
	JoinLinkTTL time.Duration
	// JoinLinkMaxAge bounds a join link's life from its issue (0: 24 h).
	JoinLinkMaxAge time.Duration
	// SessionMaxAge bounds a session's sockets as it bounds the session.
	SessionMaxAge time.Duration
	// Pages bounds the pages of history reads (zero: DefaultPageConfig).
	Pages PageConfig
	// Clinic is the clinic's time zone, for the pages and the measures.
	Clinic ClinicConfig

	// Ready reports readiness (/readyz): a status map and whether ready.
	Ready func(ctx context.Context) (map[string]any, bool)

	// The front door's limits, per source address; optional (without
	// them every refusal is an audit event of its own and nothing is rate
	// limited, as the unit tests of the routes want). Refusals aggregates
	// the audit of refusals of callers without valid credentials;
	// AnonymousLimit rate limits those refusals (429) and SignInLimit the
	// sign-in attempts (password, sign-in link, join link).
	Refusals       *auth.Refusals
	AnonymousLimit *auth.Limiter
	SignInLimit    *auth.Limiter

	// Ingest takes the readings devices and vendor clouds post over HTTP
	// (optional: without it those posts answer 503). HTTPIngest sets
	// those routes (zero: DefaultIngestConfig); VendorKeys holds each
	// vendor's webhook secret by name (IngestConfig.LoadKeys).
	Ingest     Ingester
	HTTPIngest IngestConfig
	VendorKeys map[string][]byte

	// BrokerPolicy, when set, answers an external broker's dynamic
	// authentication and authorization (POST /api/v1/broker/auth and
	// /acl) for callers that send BrokerSecret, at most BrokerAuthLimit
	// per source; without it those routes are 404.
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (http.trusted_proxies); none: the peer is the client.
	TrustedProxies []netip.Prefix

	BrokerPolicy    BrokerPolicy
	BrokerSecret    string
	BrokerAuthLimit *auth.Limiter

	// Program is the remote monitoring program (episodes, time entries,
	// reports) and ProgramSources what its reports read; without it those
	// routes answer 503.
	Program        *rpm.Program
	ProgramSources rpm.Sources

	// RequestMetrics, when set, counts and times requests by route.
	RequestMetrics *RequestMetrics

	// SSO signs people in through an OpenID Connect provider (optional:
	// without it the sign-in routes are 404).
	SSO *sso.RP
	// SMART is the FHIR API's SMART Backend Services token endpoint and
	// client registry (optional: without it no system reads the FHIR API).
	SMART *smart.Server
}

func (d Deps) check() error {
	var missing []string
	for name, ok := range map[string]bool{
		"BaseURL": d.BaseURL != nil, "Signer": d.Signer != nil, "Sessions": d.Sessions != nil,
		"Revoked": d.Revoked != nil, "Glass": d.Glass != nil, "Audit": d.Audit != nil, "Gate": d.Gate != nil,
		"Watcher": d.Watcher != nil, "Devices": d.Devices != nil, "Chart": d.Chart != nil,
		"Encounters": d.Encounters != nil, "Store": d.Store != nil, "Alerts": d.Alerts != nil,
		"ReloadRules": d.ReloadRules != nil, "Hub": d.Hub != nil, "Visits": d.Visits != nil, "SFU": d.SFU != nil,
		"Recorder": d.Recorder != nil, "Ready": d.Ready != nil, "Metrics": d.Metrics != nil,
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if d.BrokerPolicy != nil && (len(d.BrokerSecret) < 32 || d.BrokerAuthLimit == nil) {
		missing = append(missing, "BrokerSecret (32 characters or more) and BrokerAuthLimit, with BrokerPolicy")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return errors.New("httpapi: missing dependencies: " + strings.Join(missing, ", "))
	}
	return nil
}

// New builds the API's handler.
func New(d Deps) (http.Handler, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	table := routes(d)
	for _, r := range table {
		mux.Handle(r.Pattern, r.handler)
	}
	// What no FHIR route serves is a FHIR 404 or 405, not the mux's text.
	// (one pattern per method: a method-less one would conflict with "GET /").
	fallback := fhirFallback(table)
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		mux.Handle(m+" "+fhirPrefix, fallback)
	}
	return securityHeaders(behindProxies(d.RequestMetrics.wrap(mux), d.TrustedProxies), d.Secure), nil
}

// securityHeaders sets on every answer, errors included, what browsers
// need to keep it to themselves: not cached, not sniffed, not framed, no
// referrer, nothing loaded by an API answer (the UI's pages set their own
// policy), and under TLS to stay on HTTPS for a year (not for
// subdomains: other hosts of the hospital's domain are not ours to
// decide for).
func securityHeaders(h http.Handler, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}
