package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/fhir"
	"github.com/vitalwire/vitalwire/vitals"
)

// A glucose Observation's code depends on the kind of the device that
// took it (fhir.Observation), so a search by one of those codes keeps
// only the glucose readings of devices of that kind. The store cannot
// select by device: keptStore reads its pages a chunk at a time and keeps
// what matches, in bounded memory, and the handlers page over it as over
// the store itself.

// glucoseKinds are the device kinds a code search asks glucose of: nil
// for every kind; otherwise "cgm", "glucometer", and "" for any other
// kind (the generic blood code).
type glucoseKinds map[string]bool

// addGlucoseCode adds what a glucose code asks for: the kind of a
// kind's code, other kinds for the blood code, every kind for the
// IEEE 11073 one (a nil set).
func addGlucoseCode(k glucoseKinds, code string) glucoseKinds {
	if strings.HasPrefix(code, vitals.MDC+"|") {
		return nil
	}
	if k == nil {
		k = glucoseKinds{}
	}
	kind, _ := fhir.GlucoseCodeKind(code)
	k[kind] = true
	return k
}

func (k glucoseKinds) keeps(kind string) bool {
	if kind != "cgm" && kind != "glucometer" {
		kind = ""
	}
	return k[kind]
}

// keptStore is a store whose glucose readings are only those of devices
// of kinds.
type keptStore struct {
	vitals.Store
	kinds   glucoseKinds
	devices *devices.Registry
}

func (s keptStore) keep(r vitals.Reading) bool {
	if r.Type != vitals.BloodGlucose {
		return true
	}
	d, err := s.devices.Get(r.Device)
	if err != nil {
		return s.kinds.keeps("")
	}
	return s.kinds.keeps(d.Kind)
}

// scanChunk is how many readings a chunk of a filtered read holds.
const scanChunk = 1000

// scan calls fn with q's readings, newest first, that the store keeps,
// until fn returns false. It reads chunks of at most scanChunk (and, at a
// chunk's oldest instant, that whole instant: one per device).
func (s keptStore) scan(ctx context.Context, q vitals.Query, fn func(vitals.Reading) bool) error {
	q.Newest, q.Limit = true, scanChunk
	for q.From.Before(q.To) {
		rs, err := s.Store.Range(ctx, q)
		if err != nil {
			return err
		}
		if len(rs) == scanChunk {
			// The chunk may cut its oldest instant: read that instant whole.
			oldest := rs[len(rs)-1].Time
			i := len(rs)
			for i > 0 && rs[i-1].Time.Equal(oldest) {
				i--
			}
			at, err := s.Store.Range(ctx, vitals.Query{Patient: q.Patient, Type: q.Type, From: oldest, To: oldest.Add(time.Nanosecond), Newest: true})
			if err != nil {
				return err
			}
			rs = append(rs[:i], at...)
			q.To = oldest
		} else {
			q.To = q.From
		}
		for _, r := range rs {
			if s.keep(r) && !fn(r) {
				return nil
			}
		}
	}
	return nil
}

// Range answers as the store does, glucose filtered.
func (s keptStore) Range(ctx context.Context, q vitals.Query) ([]vitals.Reading, error) {
	if q.Type != vitals.BloodGlucose {
		return s.Store.Range(ctx, q)
	}
	// Pages read newest first; an oldest-first read scans the range.
	limit := q.Limit
	if !q.Newest {
		limit = 0
	}
	var out []vitals.Reading
	err := s.scan(ctx, q, func(r vitals.Reading) bool {
		out = append(out, r)
		return limit == 0 || len(out) < limit
	})
	if !q.Newest {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
	}
	return out, err
}

// count counts q's kept readings.
func (s keptStore) count(ctx context.Context, q vitals.Query) (int, error) {
	n := 0
	err := s.scan(ctx, q, func(vitals.Reading) bool { n++; return true })
	return n, err
}
