package httpapi

import (
	"time"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// The request and response bodies of the REST API, named once here for
// the handlers and their clients (the CLI, the tests).

// AddDeviceRequest is the body of POST /api/v1/devices.
type AddDeviceRequest struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Patient string `json:"patient,omitempty"`
	// Manufacturer, Model and Serial are the maker's labels, each
	// optional (manufacturer at most 64 characters; model and serial at
	// most 64 printable ASCII characters).
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Serial       string `json:"serial,omitempty"`
	// BoundFrom is when the binding to Patient starts (default now): a
	// device set up after it started measuring, or a replayed scenario.
	BoundFrom time.Time `json:"bound_from,omitzero"`
}

// AddDeviceResponse carries the secret, shown this once.
type AddDeviceResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// BulkEnrolResponse answers POST /api/v1/devices/bulk: every device
// registered, with its secret, shown this once (as CSV "id,secret" lines
// when the request accepts text/csv).
type BulkEnrolResponse struct {
	Created int                `json:"created"`
	Devices []devices.Enrolled `json:"devices"`
}

// BulkEnrolRefusal answers a bulk enrolment with bad rows (400): nothing
// was registered; each bad row with its line (the header is line 1) and
// why. More counts bad rows past the report's limit.
type BulkEnrolRefusal struct {
	Error string             `json:"error"`
	Rows  []devices.RowError `json:"rows"`
	More  int                `json:"more,omitempty"`
}

// DevicePage is a page of GET /api/v1/devices: the devices in id order,
// how many match the search in all, and the link to the next page ("" on
// the last).
type DevicePage struct {
	Devices []devices.Device `json:"devices"`
	Total   int              `json:"total"`
	Next    string           `json:"next,omitempty"`
}

// BindRequest is the body of bind and unbind; At defaults to now.
type BindRequest struct {
	Patient string    `json:"patient,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// Reading is a reading in API answers and on the live socket: the one
// shape of a reading on the wire.
type Reading struct {
	Device       string      `json:"device"`
	Patient      string      `json:"patient"`
	Type         vitals.Type `json:"type"`
	Time         time.Time   `json:"time"`
	Value        float64     `json:"value"`
	Diastolic    *float64    `json:"diastolic,omitempty"`
	Unit         string      `json:"unit"`
	ReceivedTime bool        `json:"received_time,omitempty"`
}

// ReadingOf renders a reading for the wire.
func ReadingOf(r vitals.Reading) Reading {
	out := Reading{Device: r.Device, Patient: r.Patient, Type: r.Type, Time: r.Time, Value: r.Value, Unit: r.Unit, ReceivedTime: r.ReceivedTime}
	if r.Type == vitals.BloodPressure {
		d := r.Diastolic
		out.Diastolic = &d
	}
	return out
}

// Readings is the answer of GET /api/v1/patients/{id}/readings (From and
// To set) and .../latest.
type Readings struct {
	Patient  string    `json:"patient"`
	From     time.Time `json:"from,omitzero"`
	To       time.Time `json:"to,omitzero"`
	Readings []Reading `json:"readings"`
	// Next is the path and query of the next page, while there is one.
	Next string `json:"next,omitempty"`
}

// Score is a NEWS2 score in API answers and live messages.
type Score struct {
	Total   int    `json:"total"`
	Band    string `json:"band"`
	Partial bool   `json:"partial,omitempty"`
	// Missing names the parameters a partial score lacks (consciousness
	// until a clinician records it).
	Missing []string `json:"missing,omitempty"`
	Red     bool     `json:"single_3,omitempty"`
}

// ScoreOf renders a NEWS2 score for the wire.
func ScoreOf(s news2.Score) *Score {
	return &Score{Total: s.Total, Band: string(s.Band), Partial: s.Partial, Missing: s.Missing(), Red: s.Red}
}

// DeviceTile is a device's state on a dashboard tile.
type DeviceTile struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Online   bool      `json:"online"`
	Battery  *float64  `json:"battery,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

// Tile is one patient on the care team's dashboard.
type Tile struct {
	Patient chart.Patient                   `json:"patient"`
	Latest  []Reading                       `json:"latest"`
	Spark   map[vitals.Type][]vitals.Window `json:"spark"` // the last hour, per minute
	NEWS2   *Score                          `json:"news2,omitempty"`
	Devices []DeviceTile                    `json:"devices"`
	Alerts  []alerts.Alert                  `json:"alerts"`
	// Urgency orders the tiles, most urgent first (alerts.Urgency).
	Urgency int `json:"urgency"`
}

// Dashboard is the answer of GET /api/v1/dashboard.
type Dashboard struct {
	Subject string    `json:"subject"`
	Role    auth.Role `json:"role"`
	Tiles   []Tile    `json:"tiles"`
}

// RuleJSON is a rule as the UI draws it.
type RuleJSON struct {
	ID        string      `json:"id"`
	Kind      string      `json:"kind"`
	Vital     vitals.Type `json:"vital,omitempty"`
	Severity  string      `json:"severity"`
	Level     *float64    `json:"level,omitempty"`
	Direction string      `json:"direction,omitempty"` // above or below
	For       string      `json:"for,omitempty"`
	SpO2Scale int         `json:"spo2_scale,omitempty"`
}

// ResolveRequest carries the reason for resolving an alert by hand.
type ResolveRequest struct {
	// Outcome is one of alerts.Outcomes (acted_on,
	// not_clinically_relevant, artifact, duplicate, other); Reason is the
	// note, required for other and when no outcome is given.
	Outcome string `json:"outcome,omitempty"`
	Reason  string `json:"reason"`
}

// SnoozeRequest silences a rule for a patient until a time.
type SnoozeRequest struct {
	Rule   string    `json:"rule"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// OverrideRequest sets a patient's own levels of a rule: a threshold
// rule's level and clear level, or a baseline rule's deviation, days and
// baseline (a value a clinician sets, such as a dry weight, in place of
// the one learnt). Setting a rule's override again replaces it whole.
type OverrideRequest struct {
	Rule      string   `json:"rule"`
	Level     float64  `json:"level,omitempty"`
	Clear     *float64 `json:"clear,omitempty"`
	Deviation *float64 `json:"deviation,omitempty"`
	Days      *int     `json:"days,omitempty"`
	Baseline  *float64 `json:"baseline,omitempty"`
}

// BreakGlassRequest is the body of a break-glass request.
type BreakGlassRequest struct {
	Reason string `json:"reason"`
}

// TeamRequest creates a care team.
type TeamRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MemberRequest adds or removes a care-team member.
type MemberRequest struct {
	Kind   string `json:"kind"` // clinician, patient or escalation
	Member string `json:"member"`
}

// RevokeRequest names the token to revoke.
type RevokeRequest struct {
	Token string `json:"token"`
}

// SignInRequest is the body of POST /api/v1/session: a one-time link's
// code, or a username and password.
type SignInRequest struct {
	Code     string `json:"code,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// SessionInfo describes the signed-in caller.
type SessionInfo struct {
	Subject     string    `json:"subject"`
	Role        auth.Role `json:"role"`
	IdleSeconds int       `json:"idle_seconds"`
	Expires     time.Time `json:"expires"`
	// MustSetPassword: the session was opened with a credential an admin
	// issued, and can do nothing but set the person's own password
	// (POST /api/v1/session/password).
	MustSetPassword bool `json:"must_set_password,omitempty"`
	// TimeZone is the clinic's IANA time zone: the pages show times in it.
	TimeZone string `json:"time_zone"`
}

// SetPasswordRequest is the body of POST /api/v1/session/password: the
// person's own new password, and their username (required when they have
// no account yet).
type SetPasswordRequest struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password"`
}

// CodedError is an error answer with a code a client acts on (e.g.
// password_change_required: show the set-password form).
type CodedError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// UserRequest is the body of POST /api/v1/users.
type UserRequest struct {
	Username string    `json:"username"`
	Subject  string    `json:"subject"`
	Role     auth.Role `json:"role"`
	Password string    `json:"password"`
}

// SignInLinkRequest is the body of POST /api/v1/signin-links.
type SignInLinkRequest struct {
	Subject    string    `json:"subject"`
	Role       auth.Role `json:"role"`
	TTLSeconds int       `json:"ttl_seconds,omitempty"` // default 15 minutes, at most a day
}

// SignInLink is a one-time link to the browser UI.
type SignInLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// VisitCreated is the answer to creating a visit.
type VisitCreated struct {
	Visit        telehealth.Visit `json:"visit"`
	PatientLink  SignInLink       `json:"patient_link"`
	ClinicianURL string           `json:"clinician_url"`
}

// CreateVisitRequest schedules a visit (ScheduledAt zero: now).
type CreateVisitRequest struct {
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
}

// VisitView is a visit with who is connected now.
type VisitView struct {
	telehealth.Visit
	You       string                   `json:"you"`       // your role in the visit
	Connected []telehealth.Participant `json:"connected"` // in the call now
	// Waiting is the waiting room (for a clinician of the visit).
	Waiting []telehealth.Participant `json:"waiting,omitempty"`
	// Chart says you may read the patient's chart and end or attach the
	// visit to it: a clinician the policy allows the patient, not every
	// clinician in the call.
	Chart bool `json:"chart"`
}

// InviteRequest adds a participant to a visit.
type InviteRequest struct {
	Subject string `json:"subject"`
	Role    string `json:"role"` // clinician or interpreter
}

// AdmitRequest names whom a clinician lets in from the waiting room.
type AdmitRequest struct {
	Subject string `json:"subject"`
}

// AdmitResult answers an admission: WasWaiting says whether they were in
// the waiting room then (else they enter directly when they come).
type AdmitResult struct {
	Admitted   string `json:"admitted"`
	WasWaiting bool   `json:"was_waiting"`
}

// NoteRequest carries the clinician's note.
type NoteRequest struct {
	Note string `json:"note"`
}

// JoinRequest exchanges a join link for a browser session.
type JoinRequest struct {
	Code string `json:"code"`
}

// VitalJSON is one vital of the catalog the UI shows (GET /api/v1/vitals).
type VitalJSON struct {
	Type   vitals.Type `json:"type"`
	Label  string      `json:"label"`
	Unit   string      `json:"unit"`   // the canonical UCUM unit values are stored and sent in
	Symbol string      `json:"symbol"` // the unit as people write it
	// Units are the UCUM units a device may send, converted on arrival.
	Units             []string `json:"units"`
	LOINC             []string `json:"loinc"`
	Digits            int      `json:"digits"`
	StaleAfterSeconds int      `json:"stale_after_seconds"`
	Tile              bool     `json:"tile"`
	Panel             bool     `json:"panel,omitempty"` // two values: systolic and diastolic
}

// LiveMessage is one message of the live socket (/ws/v1/live).
type LiveMessage struct {
	Type       string   `json:"type"` // subscribed, error, reading, alert, news2, escalation, problem
	Patient    string   `json:"patient,omitempty"`
	Error      string   `json:"error,omitempty"`
	Reading    *Reading `json:"reading,omitempty"`
	Alert      any      `json:"alert,omitempty"`
	NEWS2      any      `json:"news2,omitempty"`
	Escalation any      `json:"escalation,omitempty"`
	// Problem is a problem's change (alerts.Problem): the one
	// notification a patient's related alerts make.
	Problem any `json:"problem,omitempty"`
	// Urgency is the patient's dashboard urgency after an alert or NEWS2
	// change (alerts.Urgency), so that views order tiles as the server does.
	Urgency *int `json:"urgency,omitempty"`
}
