package telehealth

import (
	"context"
	"fmt"
)

// The waiting room. A participant who is not a clinician (the patient, an
// invited interpreter) waits when they join until a clinician of the visit
// admits them: until then the server makes them no PeerConnection, so they
// neither receive media nor send any to the others. An admission lasts for
// the rest of the visit (a dropped connection or Leave and Rejoin enters
// directly), and is kept in the records database.

// Admit records that by let subject into the visit from its waiting room.
func (v *Visits) Admit(ctx context.Context, id, subject, by string) error {
	x, err := v.Get(ctx, id)
	if err != nil {
		return err
	}
	if x.State == Ended {
		return ErrEnded
	}
	if _, err := v.db.ExecContext(ctx, `INSERT INTO visit_admissions (visit, subject, admitted_by, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (visit, subject) DO NOTHING`, id, subject, by, v.now().UnixMilli()); err != nil {
		return fmt.Errorf("admit to visit: %w", err)
	}
	return nil
}

// Admitted reports whether subject has been admitted to the visit.
func (v *Visits) Admitted(ctx context.Context, id, subject string) (bool, error) {
	var n int
	err := v.db.QueryRowContext(ctx, `SELECT count(*) FROM visit_admissions WHERE visit = ? AND subject = ?`, id, subject).Scan(&n)
	return n > 0, err
}

// Arrived marks a scheduled visit as waiting: someone is in its waiting
// room.
func (v *Visits) Arrived(ctx context.Context, id string) error {
	_, err := v.db.ExecContext(ctx, `UPDATE visits SET state = ? WHERE id = ? AND state = ?`, Waiting, id, Scheduled)
	return err
}

// waiter is someone in a visit's waiting room.
type waiter struct {
	Participant
	out   func(Message) bool
	admit chan struct{} // closed when a clinician admits them
}

// wait puts a participant in the room's waiting room; the returned
// function takes them out again (they left before being admitted).
func (r *room) wait(who Participant, out func(Message) bool) (*waiter, func()) {
	w := &waiter{Participant: who, out: out, admit: make(chan struct{})}
	r.mu.Lock()
	r.waiting[who.Subject] = w
	r.mu.Unlock()
	r.broadcastParticipants()
	return w, func() {
		r.mu.Lock()
		gone := r.waiting[who.Subject] == w
		if gone {
			delete(r.waiting, who.Subject)
		}
		r.mu.Unlock()
		if gone {
			r.broadcastParticipants()
		}
	}
}

// admitWaiting lets a waiting participant in; false if no one of that
// subject is waiting.
func (r *room) admitWaiting(subject string) bool {
	r.mu.Lock()
	w := r.waiting[subject]
	delete(r.waiting, subject)
	r.mu.Unlock()
	if w == nil {
		return false
	}
	close(w.admit)
	return true
}

// Admit lets someone waiting in a visit's waiting room into the call
// (their admission has been recorded); false if they are not waiting.
func (s *SFU) Admit(visit, subject string) bool {
	s.mu.Lock()
	r := s.rooms[visit]
	s.mu.Unlock()
	return r != nil && r.admitWaiting(subject)
}

// Waiting lists who is in a visit's waiting room now.
func (s *SFU) Waiting(visit string) []Participant {
	return s.room(visit).waitingList()
}

func (r *room) waitingList() []Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Participant, 0, len(r.waiting))
	for _, w := range r.waiting {
		out = append(out, w.Participant)
	}
	return out
}

func (r *room) isWaiting(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waiting[subject] != nil
}
