package app

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// Telehealth visits. A clinician of the patient's care team creates a
// visit and gets a join link for the patient (and can invite a colleague
// or an interpreter, each with their own link). The visit's routes and its
// signalling socket decide who may take part in one place (visitAccess):
// the patient, the care team (break-glass flagged), the invited, or the
// holder of a join link for this visit, and audit every answer.

func visitUse(id string) string { return "visit:" + id }

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

// joinLink mints a join link to a visit's page for subject.
func (a *App) joinLink(v telehealth.Visit, subject string, role auth.Role) SignInLink {
	ttl := a.cfg.Telehealth.JoinLinkTTL
	if until := time.Until(v.ScheduledAt.Add(ttl)); until > ttl {
		ttl = until // a link for a later visit lasts until JoinLinkTTL after its start
	}
	code, c := a.Signer.MintUse(subject, role, ttl, visitUse(v.ID))
	return SignInLink{URL: a.URL() + "/#/join?visit=" + url.QueryEscape(v.ID) + "&code=" + url.QueryEscape(code),
		Expires: time.Unix(c.Expires, 0).UTC()}
}

func (a *App) createVisit(w http.ResponseWriter, r *http.Request) {
	var req CreateVisitRequest
	c, ok := clinicianBody(w, r, "starts visits", &req)
	if !ok {
		return
	}
	patient := r.PathValue("id")
	if _, err := a.Chart.Patient(r.Context(), patient); err != nil {
		fail(w, http.StatusNotFound, "no such patient in the chart")
		return
	}
	v, err := a.Visits.Create(r.Context(), patient, c.Subject, req.ScheduledAt)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusCreated, VisitCreated{Visit: v, PatientLink: a.joinLink(v, patient, auth.RolePatient),
		ClinicianURL: a.URL() + "/#/visits/" + v.ID})
}

func (a *App) patientVisits(w http.ResponseWriter, r *http.Request) {
	vs, err := a.Visits.ForPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	encs, err := a.Encounters.ForPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": vs, "encounters": encs})
}

// visitAccess authenticates the caller (bearer token, session cookie, or
// a join link for this visit in ?join=), decides whether they may take part
// in the visit {visit} and in what role, audits the answer, and answers
// the refusals itself.
func (a *App) visitAccess(w http.ResponseWriter, r *http.Request, action string) (telehealth.Visit, auth.Claims, string, bool) {
	id := r.PathValue("visit")
	ev := auth.Event{Actor: "anonymous", Action: action, Resource: r.URL.Path, Source: clientAddr(r), Outcome: auth.Refused}
	v, verr := a.Visits.Get(r.Context(), id)
	ev.Patient = v.Patient
	c, _, err := a.authenticate(r)
	viaLink := false
	if errors.Is(err, auth.ErrNoToken) && r.URL.Query().Get("join") != "" {
		c, err = a.Signer.VerifyUse(r.URL.Query().Get("join"), visitUse(id))
		viaLink = true
	}
	if err != nil {
		if verr == nil && !a.audited(w, r, ev) {
			return v, c, "", false
		}
		status, msg := http.StatusUnauthorized, "sign in, or use a valid join link"
		if errors.Is(err, errCrossSite) {
			status, msg = http.StatusForbidden, "cross-site request refused"
		} else if errors.Is(err, auth.ErrExpired) && viaLink {
			msg = "the join link has expired; ask the care team for a new one"
		}
		fail(w, status, msg)
		return v, c, "", false
	}
	if verr != nil {
		fail(w, http.StatusNotFound, "no such visit")
		return v, c, "", false
	}
	ev.Actor, ev.Role = c.Subject, string(c.Role)
	role := ""
	switch {
	case c.Role == auth.RolePatient && c.Subject == v.Patient:
		role = telehealth.RolePatient
	case c.Role == auth.RolePatient:
	default:
		if invited, ok := a.Visits.Invited(r.Context(), id, c.Subject); ok {
			role = invited
		} else if !viaLink && c.Role == auth.RoleClinician {
			if d := a.Policy.Patient(c, v.Patient); d.Allowed {
				role, ev.BreakGlass = telehealth.RoleClinician, d.BreakGlass
			}
		}
	}
	if role != "" {
		ev.Outcome = auth.Allowed
	}
	if !a.audited(w, r, ev) {
		return v, c, "", false
	}
	if role == "" {
		fail(w, http.StatusForbidden, "you are not a participant of this visit")
		return v, c, "", false
	}
	return v, c, role, true
}

// clinicianOfVisit reads the body, then lets only a clinician taking part
// in the visit through (what says what they may not do otherwise).
func (a *App) clinicianOfVisit(w http.ResponseWriter, r *http.Request, action, what string, body any) (telehealth.Visit, auth.Claims, bool) {
	if !decodeBody(w, r, body) {
		return telehealth.Visit{}, auth.Claims{}, false
	}
	v, c, role, ok := a.visitAccess(w, r, action)
	if !ok {
		return v, c, false
	}
	if role != telehealth.RoleClinician {
		fail(w, http.StatusForbidden, "only a clinician "+what)
		return v, c, false
	}
	return v, c, true
}

// VisitView is a visit with who is connected now.
type VisitView struct {
	telehealth.Visit
	You       string                   `json:"you"`       // your role in the visit
	Connected []telehealth.Participant `json:"connected"` // in the call now
}

func (a *App) getVisit(w http.ResponseWriter, r *http.Request) {
	v, _, role, ok := a.visitAccess(w, r, "GET /api/v1/visits/{visit}")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, VisitView{Visit: v, You: role, Connected: a.SFU.Participants(v.ID)})
}

// InviteRequest adds a participant to a visit.
type InviteRequest struct {
	Subject string `json:"subject"`
	Role    string `json:"role"` // clinician or interpreter
}

func (a *App) inviteToVisit(w http.ResponseWriter, r *http.Request) {
	var req InviteRequest
	v, c, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/invite", "invites", &req)
	if !ok {
		return
	}
	if req.Subject == "" || req.Subject == v.Patient {
		fail(w, http.StatusBadRequest, "subject: the person to invite")
		return
	}
	if err := a.Visits.Invite(r.Context(), v.ID, req.Subject, req.Role, c.Subject); err != nil {
		visitError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, a.joinLink(v, req.Subject, auth.RoleClinician))
}

func visitError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, telehealth.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, telehealth.ErrEnded):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, telehealth.ErrRole):
		fail(w, http.StatusBadRequest, err.Error())
	default:
		fail(w, http.StatusInternalServerError, "internal error")
	}
}

// NoteRequest carries the clinician's note.
type NoteRequest struct {
	Note string `json:"note"`
}

func (a *App) endVisitRoute(w http.ResponseWriter, r *http.Request) {
	var req NoteRequest
	v, _, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/end", "ends the visit", &req)
	if !ok {
		return
	}
	enc, err := a.endVisit(r.Context(), v.ID, req.Note)
	if err != nil {
		a.log.Error().Err(err).Str("visit", v.ID).Msg("end visit")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, enc)
}

func (a *App) attachVisit(w http.ResponseWriter, r *http.Request) {
	var req NoteRequest
	v, _, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/attach", "attaches a visit to the chart", &req)
	if !ok {
		return
	}
	if req.Note != "" {
		if err := a.Visits.SetNote(r.Context(), v.ID, req.Note); err != nil {
			fail(w, http.StatusInternalServerError, "internal error")
			return
		}
		v.Note = req.Note
	}
	enc, err := a.attach(r.Context(), v)
	if err != nil {
		a.log.Error().Err(err).Str("visit", v.ID).Msg("attach visit")
		fail(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, enc)
}

// endVisit hangs everyone up, records the end and attaches the encounter.
func (a *App) endVisit(ctx context.Context, id, note string) (chart.Encounter, error) {
	v, err := a.Visits.End(ctx, id, note)
	if err != nil {
		return chart.Encounter{}, err
	}
	a.SFU.EndVisit(id)
	return a.attach(ctx, v)
}

// attach records the visit's Encounter: its period and participants, a
// summary of each vital over the visit and the look-back before it, and
// the alerts of that window. A visit is attached once; again changes
// nothing.
func (a *App) attach(ctx context.Context, v telehealth.Visit) (chart.Encounter, error) {
	if enc, err := a.Encounters.Get(ctx, v.ID); err == nil {
		return enc, nil
	}
	now := time.Now().UTC()
	end := v.EndedAt
	if end.IsZero() {
		end = now
	}
	start := v.StartedAt
	if start.IsZero() {
		start = end
	}
	enc := chart.Encounter{ID: v.ID, Patient: v.Patient, Start: start, End: end, WindowStart: start.Add(-a.cfg.Telehealth.AttachLookback),
		Participants: []chart.EncounterParticipant{}, Summaries: []chart.VitalSummary{}, Alerts: []chart.EncounterAlert{}, Note: v.Note, AttachedAt: now}
	for _, p := range v.Presence {
		left := p.LeftAt
		if left.IsZero() {
			left = end
		}
		enc.Participants = append(enc.Participants, chart.EncounterParticipant{Subject: p.Subject, Role: p.Role, Start: p.JoinedAt, End: left})
	}
	for _, t := range vitals.Types() {
		q := vitals.Query{Patient: v.Patient, Type: t, From: enc.WindowStart, To: end.Add(time.Millisecond)}
		ws, err := a.Store.Aggregate(ctx, vitals.AggregateQuery{Query: q})
		if err != nil {
			return chart.Encounter{}, err
		}
		if len(ws) == 0 || ws[0].Count == 0 {
			continue
		}
		rs, err := a.Store.Range(ctx, q)
		if err != nil {
			return chart.Encounter{}, err
		}
		spec, _ := vitals.Lookup(t)
		s := chart.VitalSummary{Type: string(t), Unit: spec.Canonical, Count: ws[0].Count, Min: ws[0].Min, Max: ws[0].Max, Mean: ws[0].Mean}
		if len(rs) > 0 {
			last := rs[len(rs)-1]
			s.Last, s.LastTime = last.Value, last.Time
			if spec.IsPanel() {
				d := last.Diastolic
				s.LastDia = &d
			}
		}
		enc.Summaries = append(enc.Summaries, s)
	}
	als, err := a.Alerts.Store().List(ctx, []string{v.Patient}, false, 1000)
	if err != nil {
		return chart.Encounter{}, err
	}
	for _, al := range als {
		if !al.FiredAt.Before(enc.WindowStart) && !al.FiredAt.After(end) {
			enc.Alerts = append(enc.Alerts, chart.EncounterAlert{ID: al.ID, Rule: al.Rule, Severity: al.Severity, FiredAt: al.FiredAt, Value: al.Value, State: al.State})
		}
	}
	stored, _, err := a.Encounters.Attach(ctx, enc)
	return stored, err
}

// JoinRequest exchanges a join link for a browser session.
type JoinRequest struct {
	Code string `json:"code"`
}

// joinSession signs the patient of a visit in to the browser UI with
// their join link (the join page then reads their own vitals like any
// signed-in patient). Anyone else's link (an invited colleague or
// interpreter) is good for the visit only, never for a session: a
// clinician may invite any subject, and must not thereby mint a session in
// someone else's name. The link stays good until it expires, for
// rejoining.
func (a *App) joinSession(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	id := r.PathValue("visit")
	ev := auth.Event{Actor: "anonymous", Action: "POST /api/v1/visits/{visit}/session", Resource: r.URL.Path, Source: clientAddr(r), Outcome: auth.Refused}
	v, verr := a.Visits.Get(r.Context(), id)
	ev.Patient = v.Patient
	c, err := a.Signer.VerifyUse(req.Code, visitUse(id))
	if err == nil && verr != nil {
		err = verr
	}
	if err == nil && v.State == telehealth.Ended {
		err = telehealth.ErrEnded
	}
	if err == nil && (c.Role != auth.RolePatient || c.Subject != v.Patient) {
		if !a.audited(w, r, ev) {
			return
		}
		fail(w, http.StatusForbidden, "this link is for the visit only: open the visit with it")
		return
	}
	if err != nil {
		if verr == nil && !a.audited(w, r, ev) {
			return
		}
		msg := "the join link is invalid"
		switch {
		case errors.Is(err, auth.ErrExpired):
			msg = "the join link has expired; ask the care team for a new one"
		case errors.Is(err, telehealth.ErrEnded):
			msg = "this visit has ended"
		}
		fail(w, http.StatusUnauthorized, msg)
		return
	}
	ev.Actor, ev.Role, ev.Outcome = c.Subject, string(c.Role), auth.Allowed
	if !a.audited(w, r, ev) {
		return
	}
	cookie, sc, err := a.Sessions.Create(r.Context(), c.Subject, c.Role)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	a.setSessionCookie(w, cookie, 0)
	writeJSON(w, http.StatusOK, a.sessionInfo(sc))
}

var visitUpgrader = websocket.Upgrader{ReadBufferSize: 8192, WriteBufferSize: 8192,
	// visitAccess has refused cookie upgrades from other origins; tokens
	// and join links cannot be used by a page that does not hold them.
	CheckOrigin: func(*http.Request) bool { return true }}

// visitSocket is the visit's signalling (telehealth.Serve).
func (a *App) visitSocket(w http.ResponseWriter, r *http.Request) {
	v, c, role, ok := a.visitAccess(w, r, "WS /ws/v1/visits/{visit}")
	if !ok {
		return
	}
	if v.State == telehealth.Ended {
		fail(w, http.StatusConflict, "this visit has ended")
		return
	}
	conn, err := visitUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ctx := context.Background()
	hooks := telehealth.Hooks{
		Joined: func() (int64, error) { return a.Visits.Joined(ctx, v.ID, c.Subject, role) },
		Left: func(presence int64) {
			if err := a.Visits.Left(ctx, presence); err != nil {
				a.log.Error().Err(err).Str("visit", v.ID).Msg("record leave")
			}
		},
	}
	if role == telehealth.RoleClinician {
		hooks.End = func(note string) error {
			_, err := a.endVisit(ctx, v.ID, note)
			return err
		}
	}
	done := make(chan struct{})
	defer close(done)
	go a.endWithCredential(r, c, conn, done)
	a.SFU.Serve(conn, v.ID, telehealth.Participant{Subject: c.Subject, Role: role}, hooks)
}

// endWithCredential closes a visit socket when what admitted it ends: a
// revoked token or a signed-out session at once, an expired token at its
// expiry, a session at its maximum age. Being in a visit is activity, so
// an open visit keeps its session from idling out. A join link admits to
// its visit; the visit's end (or a hang-up) ends that part.
func (a *App) endWithCredential(r *http.Request, c auth.Claims, conn *websocket.Conn, done <-chan struct{}) {
	kill := a.ws.add(c.ID)
	defer a.ws.remove(c.ID, kill)
	var expiry, check <-chan time.Time
	_, tokenErr := auth.BearerToken(r)
	ck, cookieErr := r.Cookie(sessionCookie)
	switch {
	case tokenErr == nil: // a bearer token ends at its expiry
		t := time.NewTimer(time.Until(time.Unix(c.Expires, 0)))
		defer t.Stop()
		expiry = t.C
	case cookieErr == nil: // a session's end moves: look every few seconds, and keep it alive
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		check = t.C
	}
	closeWith := func(text string) {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, text), time.Now().Add(time.Second))
		conn.Close()
	}
	for {
		select {
		case <-done:
			return
		case <-kill:
			closeWith("signed out or token revoked")
			return
		case <-expiry:
			closeWith("token expired")
			return
		case <-check:
			if _, err := a.Sessions.Check(context.Background(), ck.Value, true); err != nil {
				closeWith("signed out")
				return
			}
		}
	}
}

// sfuConfig turns the configuration into the media settings; turnURL is
// the embedded TURN server's, or "".
func sfuConfig(c TelehealthConfig, turnCreds *telehealth.TURNCredentials) telehealth.Config {
	var servers []webrtc.ICEServer
	if c.STUNURLs != "" {
		servers = append(servers, webrtc.ICEServer{URLs: splitList(c.STUNURLs)})
	}
	if c.TURNURLs != "" && c.TURNSecret == "" {
		servers = append(servers, webrtc.ICEServer{URLs: splitList(c.TURNURLs), Username: c.TURNUsername, Credential: c.TURNCredential})
	}
	out := telehealth.Config{ICEServers: servers, UDPPortMin: uint16(c.UDPPortMin), UDPPortMax: uint16(c.UDPPortMax),
		LoopbackOnly: c.LoopbackOnly, TURN: turnCreds}
	if c.PublicIP != "" {
		out.PublicIPs = []string{c.PublicIP}
	}
	return out
}

// turnCredentials is the issuer of per-participant TURN credentials: for
// the embedded server (a secret of this run) and for an external server
// sharing turn_secret. Nil when neither is configured.
func turnCredentials(c TelehealthConfig, embedded string) *telehealth.TURNCredentials {
	var urls []string
	if embedded != "" {
		urls = append(urls, "turn:"+embedded+"?transport=udp")
	}
	if c.TURNURLs != "" && c.TURNSecret != "" {
		urls = append(urls, splitList(c.TURNURLs)...)
	}
	if len(urls) == 0 {
		return nil
	}
	return telehealth.NewTURNCredentials(urls, c.TURNSecret, 12*time.Hour)
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
