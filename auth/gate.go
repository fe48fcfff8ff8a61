package auth

import (
	"context"
	"sync"
	"time"
)

// The access gate. Every decision about a patient's data — a route about
// a patient, a visit, an alert, a live subscription, a dashboard tile — is
// taken by the Policy and recorded by the Gate, and every long-lived
// connection ends through one Watcher when the credential that opened it
// ends. A change of who may see what is therefore a change here only.

// VisitFacts is what the policy needs to know of a visit.
type VisitFacts struct {
	// Patient is the visit's patient.
	Patient string
	// Invited is true when the caller was invited to this visit.
	Invited bool
	// ViaLink is true when the caller came with a join link rather than
	// their own sign-in.
	ViaLink bool
}

// Part is how a caller takes part in a visit.
type Part int

// Parts of a visit.
const (
	NotAParticipant Part = iota
	// AsPatient: the visit's own patient.
	AsPatient
	// AsInvited: invited by the care team (a colleague or an interpreter),
	// whatever their care teams.
	AsInvited
	// AsCareTeam: a clinician the policy allows the patient (break-glass
	// flagged).
	AsCareTeam
)

// VisitDecision is the policy's answer about a visit.
type VisitDecision struct {
	Decision
	Part Part
}

// Visit decides whether c takes part in a visit and how: the patient
// themself; an invited colleague or interpreter; a clinician the policy
// allows the patient, signed in (a join link is for its holder's part
// only). Another patient never.
func (p *Policy) Visit(c Claims, v VisitFacts) VisitDecision {
	switch {
	case c.Role == RolePatient && c.Subject == v.Patient:
		return VisitDecision{Decision{Allowed: true}, AsPatient}
	case c.Role == RolePatient:
		return VisitDecision{}
	case v.Invited:
		return VisitDecision{Decision{Allowed: true}, AsInvited}
	case !v.ViaLink && c.Role == RoleClinician:
		if d := p.Patient(c, v.Patient); d.Allowed {
			return VisitDecision{d, AsCareTeam}
		}
	}
	return VisitDecision{}
}

// Alert decides whether c may see or act on an alert of patient: as on
// the patient's data.
func (p *Policy) Alert(c Claims, patient string) Decision { return p.Patient(c, patient) }

// Gate decides with the Policy and records every answer in the audit log.
type Gate struct {
	Policy *Policy
	Audit  *AuditLog
}

// Request is who asks for what, as the audit log records it.
type Request struct {
	Action   string // e.g. "GET /api/v1/patients/{id}/readings"
	Resource string // the path asked for
	Source   string // the client address
}

func (q Request) event(c Claims, patient string) Event {
	ev := Event{Actor: c.Subject, Role: string(c.Role), Action: q.Action, Patient: patient, Resource: q.Resource,
		Source: q.Source, Outcome: Refused}
	if ev.Actor == "" {
		ev.Actor = "anonymous"
	}
	return ev
}

// Patient decides c's access to patient's data and audits it. An error
// means the audit event could not be written (or, ErrInvalidID, that the
// request holds an id no record can have); the access must then fail.
func (g *Gate) Patient(ctx context.Context, c Claims, patient string, q Request) (Decision, error) {
	d := g.Policy.Patient(c, patient)
	return d, g.record(ctx, c, patient, q, d)
}

// Alert decides c's access to an alert of patient and audits it.
func (g *Gate) Alert(ctx context.Context, c Claims, patient string, q Request) (Decision, error) {
	d := g.Policy.Alert(c, patient)
	return d, g.record(ctx, c, patient, q, d)
}

// Visit decides c's part in a visit and audits it.
func (g *Gate) Visit(ctx context.Context, c Claims, v VisitFacts, q Request) (VisitDecision, error) {
	d := g.Policy.Visit(c, v)
	return d, g.record(ctx, c, v.Patient, q, d.Decision)
}

// Refused audits a refusal before any decision: a caller without valid
// credentials asking for patient data (c may be the zero Claims).
func (g *Gate) Refused(ctx context.Context, c Claims, patient string, q Request) error {
	return g.record(ctx, c, patient, q, Decision{})
}

// Allowed audits an access or a change the route's roles already allow
// (an admin's change of a care team, a list of every patient).
func (g *Gate) Allowed(ctx context.Context, c Claims, patient string, q Request) error {
	return g.record(ctx, c, patient, q, Decision{Allowed: true})
}

// ProgramReport audits c's report over patients, one allowed event per
// patient in one write (and one event for "*" when it holds none); an
// error means the report must not be answered.
func (g *Gate) ProgramReport(ctx context.Context, c Claims, patients []string, q Request) error {
	if len(patients) == 0 {
		return g.record(ctx, c, "*", q, Decision{Allowed: true})
	}
	es := make([]Event, 0, len(patients))
	for _, p := range patients {
		ev := q.event(c, p)
		if err := checkEvent(ev); err != nil {
			return err
		}
		ev.IssuedBy, ev.Outcome = c.IssuedBy, Allowed
		es = append(es, ev)
	}
	return g.Audit.AppendAll(ctx, es)
}

// Record audits a decision taken outside the policy (a break-glass grant
// is itself an access, flagged break-glass, allowed when granted).
func (g *Gate) Record(ctx context.Context, c Claims, patient string, q Request, d Decision) error {
	return g.record(ctx, c, patient, q, d)
}

func (g *Gate) record(ctx context.Context, c Claims, patient string, q Request, d Decision) error {
	ev := q.event(c, patient)
	if err := checkEvent(ev); err != nil {
		return err // ErrInvalidID: nothing is written, nothing allowed
	}
	ev.BreakGlass = d.BreakGlass
	ev.IssuedBy = c.IssuedBy
	if d.Allowed {
		ev.Outcome = Allowed
	}
	_, err := g.Audit.Append(ctx, ev)
	return err
}

// Via is how a connection's caller proved who they are.
type Via int

// Credentials.
const (
	// ViaToken: a bearer token; it ends at its expiry or revocation.
	ViaToken Via = iota
	// ViaSession: a browser session cookie; it ends when signed out, idle
	// or too old, which moves with activity.
	ViaSession
	// ViaLink: a join link to one visit; the visit's end ends it.
	ViaLink
)

// Credential is what admitted a long-lived connection.
type Credential struct {
	Claims
	Via Via
	// Cookie is the session cookie (ViaSession).
	Cookie string
}

// Watcher ends long-lived connections (WebSockets) when what admitted
// them ends: a revoked token or an ended session at once (and the
// sessions a revoked link minted), an expired token at its expiry, a
// session that idled out or reached its maximum age within CheckEvery.
// It also holds each patient a connection was allowed (Hold) and
// re-decides it with the policy whenever access may have changed
// (Changed: care teams, break-glass grants and their expiry) and every
// RecheckEvery (Run), ending the access the policy no longer allows.
type Watcher struct {
	Sessions     *Sessions
	CheckEvery   time.Duration // default 5 s
	RecheckEvery time.Duration // default 5 s

	mu      sync.Mutex
	byJTI   map[string]map[chan string]struct{}
	gate    *Gate
	holds   map[*Hold]struct{}
	revoked *Revocations
}

// NewWatcher returns a watcher told of every revocation by revoked.
func NewWatcher(sessions *Sessions, revoked *Revocations) *Watcher {
	w := &Watcher{Sessions: sessions, CheckEvery: 5 * time.Second, RecheckEvery: 5 * time.Second, revoked: revoked}
	if revoked != nil {
		revoked.Watch(func(jti string) {
			w.End(jti, "token revoked")
			// A revoked link ends the sessions it minted.
			if sessions == nil {
				return
			}
			ids, _ := sessions.EndFrom(context.Background(), jti)
			for _, id := range ids {
				w.End(id, "the link this session was opened with was revoked")
			}
		})
	}
	return w
}

// Decide makes the watcher re-decide held accesses with g's policy, and
// audit their ends, from now on; it listens to g's break-glass grants.
func (w *Watcher) Decide(g *Gate) {
	w.mu.Lock()
	w.gate = g
	w.mu.Unlock()
	if g.Policy != nil && g.Policy.BreakGlass != nil {
		g.Policy.BreakGlass.Watch(w.Changed)
	}
}

// Hold is one patient's data held open on a connection (a live
// subscription, a visit joined as the care team).
type Hold struct {
	w       *Watcher
	claims  Claims
	patient string
	end     Request
	decide  func() Decision
	lost    func(reason string)

	mu   sync.Mutex
	last Decision
	done bool
}

// Hold keeps an access the gate allowed open while decide (the policy's
// decision, taken again) allows it. When it no longer does, the watcher
// audits end (the closing, refused from now on) and calls lost once with
// the reason, from whichever goroutine noticed; lost must not block.
// Release the hold when the connection ends.
func (w *Watcher) Hold(c Claims, patient string, end Request, decide func() Decision, lost func(reason string)) *Hold {
	h := &Hold{w: w, claims: c, patient: patient, end: end, decide: decide, lost: lost, last: Decision{Allowed: true}}
	w.mu.Lock()
	if w.holds == nil {
		w.holds = map[*Hold]struct{}{}
	}
	w.holds[h] = struct{}{}
	w.mu.Unlock()
	h.redecide() // a change between the gate's decision and the hold
	return h
}

// Release stops holding, without audit (the connection ended).
func (h *Hold) Release() {
	h.mu.Lock()
	h.done = true
	h.mu.Unlock()
	h.w.forgetHold(h)
}

func (w *Watcher) forgetHold(h *Hold) {
	w.mu.Lock()
	delete(w.holds, h)
	w.mu.Unlock()
}

func (h *Hold) redecide() {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return
	}
	d := h.decide()
	if d.Allowed {
		h.last = d
		h.mu.Unlock()
		return
	}
	h.done = true
	reason := "access ended: no longer in a care team of the patient"
	if h.last.BreakGlass {
		reason = "access ended: the break-glass grant expired"
	}
	h.mu.Unlock()
	h.w.forgetHold(h)
	h.w.mu.Lock()
	g := h.w.gate
	h.w.mu.Unlock()
	if g != nil {
		// The access ends whether or not this can be written.
		g.Record(context.Background(), h.claims, h.patient, h.end, Decision{})
	}
	h.lost(reason)
}

// Changed re-decides every held access now: who may see what may have
// changed (a care team's members, a break-glass grant begun or expired).
func (w *Watcher) Changed() {
	w.mu.Lock()
	hs := make([]*Hold, 0, len(w.holds))
	for h := range w.holds {
		hs = append(hs, h)
	}
	w.mu.Unlock()
	for _, h := range hs {
		h.redecide()
	}
}

// Run re-decides every held access each RecheckEvery until ctx ends: the
// backstop for a change nobody announced.
func (w *Watcher) Run(ctx context.Context) error {
	every := w.RecheckEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.Changed()
		}
	}
}

// End ends every connection of a token or session id now (a revocation,
// a sign-out).
func (w *Watcher) End(jti, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.byJTI[jti] {
		select {
		case c <- reason:
		default:
		}
	}
	delete(w.byJTI, jti)
}

// Watch reports, once, why the connection admitted by cred must end; it
// stops watching when ctx ends. active says that using the connection is
// the user's activity (a call in progress keeps its session alive; a
// dashboard left open does not).
func (w *Watcher) Watch(ctx context.Context, cred Credential, active bool) <-chan string {
	out := make(chan string, 1)
	ended := make(chan string, 1)
	w.mu.Lock()
	if w.byJTI == nil {
		w.byJTI = map[string]map[chan string]struct{}{}
	}
	if w.byJTI[cred.ID] == nil {
		w.byJTI[cred.ID] = map[chan string]struct{}{}
	}
	w.byJTI[cred.ID][ended] = struct{}{}
	w.mu.Unlock()
	// A revocation between the handler's check of the credential and
	// now found no connection to end: Revoke marks the id before it
	// tells the watcher, so one of the two sees it.
	if w.revoked != nil && w.revoked.Revoked(cred.ID) {
		select {
		case ended <- "token revoked":
		default: // End has told it already
		}
	}
	go func() {
		defer w.forget(cred.ID, ended)
		var expiry, check <-chan time.Time
		switch cred.Via {
		case ViaToken:
			t := time.NewTimer(time.Until(time.Unix(cred.Expires, 0)))
			defer t.Stop()
			expiry = t.C
		case ViaSession:
			every := w.CheckEvery
			if every <= 0 {
				every = 5 * time.Second
			}
			t := time.NewTicker(every)
			defer t.Stop()
			check = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case reason := <-ended:
				out <- reason
				return
			case <-expiry:
				out <- "token expired"
				return
			case <-check:
				if _, err := w.Sessions.Check(ctx, cred.Cookie, active); err != nil && ctx.Err() == nil {
					out <- "signed out"
					return
				}
			}
		}
	}()
	return out
}

func (w *Watcher) forget(jti string, c chan string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.byJTI[jti], c)
	if len(w.byJTI[jti]) == 0 {
		delete(w.byJTI, jti)
	}
}
