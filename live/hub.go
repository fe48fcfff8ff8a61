// Package live fans durable readings, and events about a patient (alert
// changes, escalations, NEWS2 scores), out to in-process subscribers: the
// WebSocket connections of dashboards and visits. It takes each durable
// batch from the ingester as a Sink and never blocks it, nor the alerts
// service that publishes events: a subscriber that cannot keep up loses
// what it has no room for, counted by Dropped.
package live

import (
	"sync"
	"sync/atomic"

	"github.com/vitalwire/vitalwire/vitals"
)

// Hub routes readings to the subscribers of each patient.
type Hub struct {
	mu        sync.RWMutex
	byPatient map[string]map[*Sub]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{byPatient: map[string]map[*Sub]struct{}{}} }

// Event is a change other than a reading for a patient's subscribers; Kind
// says which ("alert", "escalation", "news2"). Data is encoded as JSON for
// the client.
type Event struct {
	Patient string
	Kind    string
	Data    any
	// Urgency, when set, is the patient's dashboard urgency after this
	// change (alerts.Urgency), so that every view orders patients alike.
	Urgency *int
}

// Sub is one subscriber. Readings arrive on C, other events on Events.
type Sub struct {
	C        chan vitals.Reading
	Events   chan Event
	hub      *Hub
	dropped  atomic.Int64
	mu       sync.Mutex
	patients map[string]bool // subscribed to
	closed   bool
}

// Subscribe makes a subscriber with room for buf readings (and 256 events).
func (h *Hub) Subscribe(buf int) *Sub {
	return &Sub{C: make(chan vitals.Reading, buf), Events: make(chan Event, 256), hub: h, patients: map[string]bool{}}
}

// Add subscribes s to a patient's readings and events. The caller has
// checked access.
func (s *Sub) Add(patient string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.patients[patient] {
		return
	}
	s.patients[patient] = true
	h := s.hub
	h.mu.Lock()
	if h.byPatient[patient] == nil {
		h.byPatient[patient] = map[*Sub]struct{}{}
	}
	h.byPatient[patient][s] = struct{}{}
	h.mu.Unlock()
}

// Remove unsubscribes s from a patient (access to them ended). What is
// already queued on C and Events stays there: the reader filters it.
func (s *Sub) Remove(patient string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.patients[patient] {
		return
	}
	delete(s.patients, patient)
	h := s.hub
	h.mu.Lock()
	delete(h.byPatient[patient], s)
	if len(h.byPatient[patient]) == 0 {
		delete(h.byPatient, patient)
	}
	h.mu.Unlock()
}

// Close unsubscribes s from everything. C and Events are not closed: the
// hub may be sending concurrently; readers stop on their own signal.
func (s *Sub) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	h := s.hub
	h.mu.Lock()
	for p := range s.patients {
		delete(h.byPatient[p], s)
		if len(h.byPatient[p]) == 0 {
			delete(h.byPatient, p)
		}
	}
	h.mu.Unlock()
}

// Dropped is how many readings and events s had no room for.
func (s *Sub) Dropped() int64 { return s.dropped.Load() }

// Readings implements the ingester's Sink.
func (h *Hub) Readings(batch []vitals.Reading) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.byPatient) == 0 {
		return
	}
	for _, r := range batch {
		for s := range h.byPatient[r.Patient] {
			select {
			case s.C <- r:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

// Publish sends an event to the subscribers of its patient, dropping it for
// any that has no room.
func (h *Hub) Publish(e Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.byPatient[e.Patient] {
		select {
		case s.Events <- e:
		default:
			s.dropped.Add(1)
		}
	}
}
