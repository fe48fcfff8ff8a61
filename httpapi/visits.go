package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/auth"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/telehealth"
)

// Telehealth visits. A clinician of the patient's care team creates a
// visit and gets a join link for the patient (and can invite a colleague
// or an interpreter, each with their own link). Who takes part, and how,
// is the access gate's decision (auth.Policy.Visit), audited for every
// route and the signalling socket.
type visitsAPI struct {
	access
	visits     *telehealth.Visits
	chart      *chart.Chart
	encounters *chart.Encounters
	sfu        *telehealth.SFU
	recorder   *telehealth.Recorder
	watcher    *auth.Watcher
	sessions   sessionAPI
	joinTTL    time.Duration
	// joinMaxAge bounds a join link's life from its issue.
	joinMaxAge time.Duration
	log        zerolog.Logger
}

func visitUse(id string) string { return "visit:" + id }

// joinLink mints a join link to a visit's page for subject. It lasts
// until JoinLinkTTL after the visit's start (at least JoinLinkTTL), but
// never more than JoinLinkMaxAge from now: a link for a visit months ahead
// is issued again nearer the time (POST /api/v1/visits/{visit}/patient-link).
// It ends with the visit in any case.
func (a visitsAPI) joinLink(v telehealth.Visit, subject string, role auth.Role) SignInLink {
	ttl := a.joinTTL
	if until := time.Until(v.ScheduledAt.Add(ttl)); until > ttl {
		ttl = until
	}
	maxAge := a.joinMaxAge
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	ttl = min(ttl, maxAge)
	code, c := a.signer.MintUse(subject, role, ttl, visitUse(v.ID))
	return SignInLink{URL: a.sessions.baseURL() + "/#/join?visit=" + url.QueryEscape(v.ID) + "&code=" + url.QueryEscape(code),
		Expires: time.Unix(c.Expires, 0).UTC()}
}

func (a visitsAPI) create(w http.ResponseWriter, r *http.Request) {
	c, ok := clinicianOnly(w, r, "starts visits")
	if !ok {
		return
	}
	var req CreateVisitRequest
	if !decodeBody(w, r, &req) {
		return
	}
	patient := r.PathValue("id")
	if _, err := a.chart.Patient(r.Context(), patient); err != nil {
		fail(w, http.StatusNotFound, "no such patient in the chart")
		return
	}
	v, err := a.visits.Create(r.Context(), patient, c.Subject, req.ScheduledAt)
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, VisitCreated{Visit: v, PatientLink: a.joinLink(v, patient, auth.RolePatient),
		ClinicianURL: a.sessions.baseURL() + "/#/visits/" + v.ID})
}

func (a visitsAPI) ofPatient(w http.ResponseWriter, r *http.Request) {
	vs, err := a.visits.ForPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	encs, err := a.encounters.ForPatient(r.Context(), r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"visits": vs, "encounters": encs})
}

// participant authenticates the caller (bearer token, session cookie, or
// a join link for this visit in ?join=), has the gate decide whether and
// how they take part in the visit {visit} (audited), and answers the
// refusals itself.
func (a visitsAPI) participant(w http.ResponseWriter, r *http.Request, action string) (telehealth.Visit, auth.Credential, string, bool) {
	id := r.PathValue("visit")
	v, verr := a.visits.Get(r.Context(), id)
	cred, err := a.credential(r)
	if errors.Is(err, auth.ErrNoToken) && r.URL.Query().Get("join") != "" {
		var c auth.Claims
		c, err = a.signer.VerifyUse(r.URL.Query().Get("join"), visitUse(id))
		cred = auth.Credential{Claims: c, Via: auth.ViaLink}
	}
	if errors.Is(err, errSetPassword) {
		if a.refused(w, r, cred.Claims, v.Patient, action) {
			passwordFirst(w)
		}
		return v, cred, "", false
	}
	if err != nil {
		if verr == nil && !a.refused(w, r, auth.Claims{}, v.Patient, action) {
			return v, cred, "", false
		}
		status, msg := http.StatusUnauthorized, "sign in, or use a valid join link"
		if errors.Is(err, errCrossSite) {
			status, msg = http.StatusForbidden, "cross-site request refused"
		} else if errors.Is(err, auth.ErrExpired) && cred.Via == auth.ViaLink {
			msg = "the join link has expired; ask the care team for a new one"
		}
		fail(w, status, msg)
		return v, cred, "", false
	}
	if verr != nil {
		fail(w, http.StatusNotFound, "no such visit")
		return v, cred, "", false
	}
	if cred.Via == auth.ViaLink && v.State == telehealth.Ended {
		// A join link ends with its visit.
		if a.refused(w, r, cred.Claims, v.Patient, action) {
			fail(w, http.StatusUnauthorized, "this visit has ended")
		}
		return v, cred, "", false
	}
	invitedAs, invited := "", false
	if cred.Role != auth.RolePatient {
		invitedAs, invited = a.visits.Invited(r.Context(), id, cred.Subject)
	}
	d, err := a.gate.Visit(r.Context(), cred.Claims, auth.VisitFacts{Patient: v.Patient, Invited: invited, ViaLink: cred.Via == auth.ViaLink},
		request(r, action))
	if err != nil {
		a.auditFailed(w, err)
		return v, cred, "", false
	}
	role := ""
	switch d.Part {
	case auth.AsPatient:
		role = telehealth.RolePatient
	case auth.AsInvited:
		role = invitedAs
	case auth.AsCareTeam:
		role = telehealth.RoleClinician
	}
	if role == "" {
		fail(w, http.StatusForbidden, "you are not a participant of this visit")
		return v, cred, "", false
	}
	return v, cred, role, true
}

// clinicianOfVisit reads the body, then lets only a clinician taking part
// in the visit through (what says what they may not do otherwise).
func (a visitsAPI) clinicianOfVisit(w http.ResponseWriter, r *http.Request, action, what string, body any) (telehealth.Visit, auth.Claims, bool) {
	if !decodeBody(w, r, body) {
		return telehealth.Visit{}, auth.Claims{}, false
	}
	v, cred, role, ok := a.participant(w, r, action)
	if !ok {
		return v, cred.Claims, false
	}
	if role != telehealth.RoleClinician {
		fail(w, http.StatusForbidden, "only a clinician "+what)
		return v, cred.Claims, false
	}
	return v, cred.Claims, true
}

// chartWriterOfVisit is clinicianOfVisit for what writes the chart (ending
// and attaching the visit): a clinician the policy allows the patient.
func (a visitsAPI) chartWriterOfVisit(w http.ResponseWriter, r *http.Request, action, what string, body any) (telehealth.Visit, auth.Claims, bool) {
	v, c, ok := a.clinicianOfVisit(w, r, action, what, body)
	if !ok || !a.writesChart(w, r, c, v, action) {
		return v, c, false
	}
	return v, c, true
}

func (a visitsAPI) get(w http.ResponseWriter, r *http.Request) {
	v, cred, role, ok := a.participant(w, r, "GET /api/v1/visits/{visit}")
	if !ok {
		return
	}
	chart := role == telehealth.RoleClinician && a.gate.Policy.Patient(cred.Claims, v.Patient).Allowed
	view := VisitView{Visit: v, You: role, Connected: a.sfu.Participants(v.ID), Chart: chart}
	if role == telehealth.RoleClinician {
		view.Waiting = a.sfu.Waiting(v.ID)
	}
	writeJSON(w, http.StatusOK, view)
}

func (a visitsAPI) invite(w http.ResponseWriter, r *http.Request) {
	var req InviteRequest
	v, c, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/invite", "invites", &req)
	if !ok {
		return
	}
	if !auth.ValidID(req.Subject) || req.Subject == v.Patient {
		fail(w, http.StatusBadRequest, "subject: the person to invite")
		return
	}
	if err := a.visits.Invite(r.Context(), v.ID, req.Subject, req.Role, c.Subject); err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, a.joinLink(v, req.Subject, auth.RoleClinician))
}

func (a visitsAPI) end(w http.ResponseWriter, r *http.Request) {
	var req NoteRequest
	v, _, ok := a.chartWriterOfVisit(w, r, "POST /api/v1/visits/{visit}/end", "ends the visit", &req)
	if !ok {
		return
	}
	enc, err := a.recorder.End(r.Context(), v.ID, req.Note)
	if err != nil {
		a.log.Error().Err(err).Str("visit", v.ID).Msg("end visit")
		fail(w, http.StatusInternalServerError, "internal error")
		return
	}
	writeJSON(w, http.StatusOK, enc)
}

func (a visitsAPI) attach(w http.ResponseWriter, r *http.Request) {
	var req NoteRequest
	v, _, ok := a.chartWriterOfVisit(w, r, "POST /api/v1/visits/{visit}/attach", "attaches a visit to the chart", &req)
	if !ok {
		return
	}
	if req.Note != "" {
		if err := a.visits.SetNote(r.Context(), v.ID, req.Note); err != nil {
			failErr(w, err)
			return
		}
		v.Note = req.Note
	}
	enc, err := a.recorder.Attach(r.Context(), v)
	if err != nil {
		a.log.Error().Err(err).Str("visit", v.ID).Msg("attach visit")
		fail(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, enc)
}

// joinSession signs the patient of a visit in to the browser UI with
// their join link (the join page then reads their own vitals like any
// signed-in patient). Anyone else's link (an invited colleague or
// interpreter) is good for the visit only, never for a session: a
// clinician may invite any subject, and must not thereby mint a session in
// someone else's name. The link stays good until it expires, for
// rejoining.
func (a visitsAPI) joinSession(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !sameOrigin(r) {
		fail(w, http.StatusForbidden, "cross-site request refused")
		return
	}
	const action = "POST /api/v1/visits/{visit}/session"
	id := r.PathValue("visit")
	v, verr := a.visits.Get(r.Context(), id)
	c, err := a.signer.VerifyUse(req.Code, visitUse(id))
	if err == nil && verr != nil {
		err = verr
	}
	if err == nil && v.State == telehealth.Ended {
		err = telehealth.ErrEnded
	}
	if err == nil && (c.Role != auth.RolePatient || c.Subject != v.Patient) {
		if !a.refused(w, r, auth.Claims{}, v.Patient, action) {
			return
		}
		fail(w, http.StatusForbidden, "this link is for the visit only: open the visit with it")
		return
	}
	if err != nil {
		if verr == nil && !a.refused(w, r, auth.Claims{}, v.Patient, action) {
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
	if aerr := a.gate.Allowed(r.Context(), c, v.Patient, request(r, action)); aerr != nil {
		a.auditFailed(w, aerr)
		return
	}
	// The session remembers its link: revoking the link ends it.
	a.sessions.startSession(w, r, auth.Claims{Subject: c.Subject, Role: c.Role}, auth.Origin{Link: c.ID})
}

// patientLink issues the patient's join link again (the first one lasts at
// most a day from its issue, and may have leaked): a clinician of the
// visit asks for it.
func (a visitsAPI) patientLink(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	v, _, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/patient-link", "issues join links", &req)
	if !ok {
		return
	}
	if v.State == telehealth.Ended {
		failErr(w, telehealth.ErrEnded)
		return
	}
	writeJSON(w, http.StatusCreated, a.joinLink(v, v.Patient, auth.RolePatient))
}

// mayRevokeLink decides whether c may revoke another's link: a join link
// of a visit c takes part in as a clinician (its care team, or invited as
// a clinician). The decision is the gate's, audited.
func (a visitsAPI) mayRevokeLink(r *http.Request, c, link auth.Claims) (bool, error) {
	id, ok := strings.CutPrefix(link.Use, "visit:")
	if !ok || c.Role != auth.RoleClinician {
		return false, nil
	}
	v, err := a.visits.Get(r.Context(), id)
	if err != nil {
		return false, nil
	}
	invitedAs, invited := a.visits.Invited(r.Context(), id, c.Subject)
	d, err := a.gate.Visit(r.Context(), c, auth.VisitFacts{Patient: v.Patient, Invited: invited},
		request(r, "POST /api/v1/tokens/revoke"))
	if err != nil {
		return false, err
	}
	return d.Part == auth.AsCareTeam || (d.Part == auth.AsInvited && invitedAs == telehealth.RoleClinician), nil
}

// admit lets someone into the call from the waiting room (or lets them
// enter directly when they come): a clinician of the visit.
func (a visitsAPI) admit(w http.ResponseWriter, r *http.Request) {
	var req AdmitRequest
	v, c, ok := a.clinicianOfVisit(w, r, "POST /api/v1/visits/{visit}/admit", "admits from the waiting room", &req)
	if !ok {
		return
	}
	if !auth.ValidID(req.Subject) {
		fail(w, http.StatusBadRequest, "subject: the id of the person to admit")
		return
	}
	if err := a.visits.Admit(r.Context(), v.ID, req.Subject, c.Subject); err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, AdmitResult{Admitted: req.Subject, WasWaiting: a.sfu.Admit(v.ID, req.Subject)})
}

var visitUpgrader = websocket.Upgrader{ReadBufferSize: 8192, WriteBufferSize: 8192,
	// participant has refused cookie upgrades from other origins; tokens
	// and join links cannot be used by a page that does not hold them.
	CheckOrigin: func(*http.Request) bool { return true }}

// socket is the visit's signalling (telehealth.Serve). It ends with the
// credential that opened it (auth.Watcher): being in the call is activity,
// so an open visit keeps its session alive; a join link admits to its
// visit until the visit ends or its holder hangs up.
func (a visitsAPI) socket(w http.ResponseWriter, r *http.Request) {
	v, cred, role, ok := a.participant(w, r, "WS /ws/v1/visits/{visit}")
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
		Joined: func() (int64, error) { return a.visits.Joined(ctx, v.ID, cred.Subject, role) },
		Left: func(presence int64) {
			if err := a.visits.Left(ctx, presence); err != nil {
				a.log.Error().Err(err).Str("visit", v.ID).Msg("record leave")
			}
		},
	}
	hooks.Chat = func(text string) (telehealth.ChatMessage, error) {
		// Audited like the visit's other actions (the text is not in the
		// audit log: it is patient data, kept with the visit).
		if err := a.gate.Record(ctx, cred.Claims, v.Patient, request(r, "WS chat /ws/v1/visits/{visit}"), auth.Decision{Allowed: true}); err != nil {
			return telehealth.ChatMessage{}, errors.New("chat: could not be recorded; try again")
		}
		m, err := a.visits.AddMessage(ctx, v.ID, telehealth.ChatMessage{Subject: cred.Subject, Role: role, Text: text}, a.sfu.ChatLimits().MaxMessages)
		if err != nil && !errors.Is(err, telehealth.ErrChatFull) && !errors.Is(err, telehealth.ErrEnded) {
			a.log.Error().Err(err).Str("visit", v.ID).Msg("keep chat message")
			return m, errors.New("chat: could not be kept; try again")
		}
		return m, err
	}
	if role == telehealth.RoleClinician {
		hooks.Admit = func(subject string) error {
			if !auth.ValidID(subject) {
				return errors.New("admit: subject: the id of someone waiting")
			}
			if err := a.gate.Record(ctx, cred.Claims, v.Patient, request(r, "WS admit /ws/v1/visits/{visit}"), auth.Decision{Allowed: true}); err != nil {
				return errors.New("admit: could not be recorded; try again")
			}
			return a.visits.Admit(ctx, v.ID, subject, cred.Subject)
		}
	} else {
		hooks.Guest = true
		// Everyone but a clinician waits to be admitted (once a visit).
		hooks.Admitted = func() bool {
			ok, err := a.visits.Admitted(ctx, v.ID, cred.Subject)
			if err != nil {
				a.log.Error().Err(err).Str("visit", v.ID).Msg("read admission")
			}
			return ok
		}
		hooks.Arrived = func() {
			if err := a.visits.Arrived(ctx, v.ID); err != nil {
				a.log.Error().Err(err).Str("visit", v.ID).Msg("record arrival")
			}
		}
	}
	if role == telehealth.RoleClinician && a.mayWriteChart(cred.Claims, v) {
		hooks.End = func(note string) error {
			if !a.mayWriteChart(cred.Claims, v) { // access may have changed in the call
				return errors.New("only a clinician of the patient's care ends the visit")
			}
			_, err := a.recorder.End(ctx, v.ID, note)
			return err
		}
	}
	wctx, stop := context.WithCancel(context.Background())
	defer stop()
	ended := a.watcher.Watch(wctx, cred, true)
	if role == telehealth.RoleClinician && cred.Via != auth.ViaLink {
		if _, invited := a.visits.Invited(ctx, v.ID, cred.Subject); !invited {
			// In the call through the care team: it lasts as long as the
			// policy allows the patient.
			hold := a.watcher.Hold(cred.Claims, v.Patient,
				auth.Request{Action: "WS end /ws/v1/visits/{visit} (access ended)", Resource: r.URL.Path, Source: clientAddr(r)},
				func() auth.Decision {
					_, invited := a.visits.Invited(ctx, v.ID, cred.Subject)
					return a.gate.Policy.Visit(cred.Claims, auth.VisitFacts{Patient: v.Patient, Invited: invited}).Decision
				},
				func(reason string) {
					conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason),
						time.Now().Add(time.Second))
					conn.Close()
				})
			defer hold.Release()
		}
	}
	go func() {
		select {
		case reason := <-ended:
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason),
				time.Now().Add(time.Second))
			conn.Close()
		case <-wctx.Done():
		}
	}()
	a.sfu.Serve(conn, v.ID, telehealth.Participant{Subject: cred.Subject, Role: role}, hooks)
}
