package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	pahopackets "github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/httpapi"
	"github.com/vitalwire/vitalwire/ingest"
	"github.com/vitalwire/vitalwire/live"
	"github.com/vitalwire/vitalwire/vitals"
	"github.com/vitalwire/vitalwire/vitals/news2"
)

// Adapters between components that do not know one another.

// multiSink hands each durable batch to every sink in order.
type multiSink []ingest.Sink

func (m multiSink) Readings(b []vitals.Reading) {
	for _, s := range m {
		s.Readings(b)
	}
}

// hubNotifier sends alert and NEWS2 changes to the patient's live
// subscribers, each with the patient's urgency after the change.
type hubNotifier struct {
	hub    *live.Hub
	alerts **alerts.Service
}

func (h hubNotifier) publish(patient, kind string, data any) {
	u := (*h.alerts).PatientUrgency(patient)
	h.hub.Publish(live.Event{Patient: patient, Kind: kind, Data: data, Urgency: &u})
}

func (h hubNotifier) AlertChanged(al alerts.Alert) { h.publish(al.Patient, "alert", al) }

// ProblemChanged sends a problem (one notification of related alerts) to
// the patient's live subscribers.
func (h hubNotifier) ProblemChanged(p alerts.Problem) { h.publish(p.Patient, "problem", p) }

// Escalated pages the contacts on the live view: every subscriber of the
// patient gets the escalation with its contacts; a contact's page says so.
func (h hubNotifier) Escalated(al alerts.Alert, contacts []string) {
	if contacts == nil {
		contacts = []string{}
	}
	h.publish(al.Patient, "escalation", map[string]any{"alert": al, "contacts": contacts})
}

// ScoreChanged sends a patient's new NEWS2 to their live subscribers.
func (h hubNotifier) ScoreChanged(patient string, s news2.Score) {
	h.publish(patient, "news2", httpapi.ScoreOf(s))
}

// alertSource gives the telehealth recorder a visit window's alerts.
type alertSource struct{ s *alerts.Service }

func (a alertSource) AlertsBetween(ctx context.Context, patient string, from, to time.Time) ([]chart.EncounterAlert, error) {
	als, err := a.s.Between(ctx, patient, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]chart.EncounterAlert, 0, len(als))
	for _, al := range als {
		out = append(out, chart.EncounterAlert{ID: al.ID, Rule: al.Rule, Severity: al.Severity, FiredAt: al.FiredAt, Value: al.Value, State: al.State})
	}
	return out, nil
}

// embeddedHandler connects the embedded broker to the ingester.
type embeddedHandler struct {
	in  *ingest.Ingester
	reg *devices.Registry
}

func (h embeddedHandler) Readings(device string, payload []byte) error {
	return h.in.SubmitWait(context.Background(), device, payload)
}

func (h embeddedHandler) Status(device string, payload []byte) {
	ingest.ApplyStatus(h.reg, device, payload)
}

// httpIngester hands the readings posted over HTTP to the ingester, and
// its report back in the API's terms.
type httpIngester struct{ in *ingest.Ingester }

func (h httpIngester) Ingest(ctx context.Context, device string, payload []byte) (httpapi.ReadingsAnswer, error) {
	res, err := h.in.Ingest(ctx, device, payload)
	if err != nil {
		return httpapi.ReadingsAnswer{}, err
	}
	ans := httpapi.ReadingsAnswer{Seq: res.Seq, Accepted: res.Accepted, Rejects: make([]httpapi.ReadingRefusal, 0, len(res.Refused))}
	for _, r := range res.Refused {
		ans.Rejects = append(ans.Rejects, httpapi.ReadingRefusal{Index: r.Index, Reason: string(r.Reason), Detail: r.Detail})
	}
	return ans, nil
}

type rejectFunc func(device string, payload []byte)

func (f rejectFunc) Reject(device string, payload []byte) { f(device, payload) }

// pahoLogger routes paho's package-level loggers into zerolog. A packet or
// message among the arguments is written as its type only, and bytes as
// their count: a payload carries readings.
type pahoLogger struct {
	ev func() *zerolog.Event
}

func (p pahoLogger) Println(v ...any) {
	p.ev().Msg(strings.TrimSuffix(fmt.Sprintln(withoutPayloads(v)...), "\n"))
}
func (p pahoLogger) Printf(format string, v ...any) {
	p.ev().Msgf(format, withoutPayloads(v)...)
}

func withoutPayloads(v []any) []any {
	out := make([]any, len(v))
	for i, a := range v {
		switch x := a.(type) {
		case pahopackets.ControlPacket, pahomqtt.Message:
			out[i] = fmt.Sprintf("%T", x)
		case []byte:
			out[i] = fmt.Sprintf("(%d bytes)", len(x))
		default:
			out[i] = a
		}
	}
	return out
}

func routePahoLogs(log zerolog.Logger) {
	l := log.With().Str("component", "paho").Logger()
	pahomqtt.ERROR = pahoLogger{func() *zerolog.Event { return l.Error() }}
	pahomqtt.CRITICAL = pahoLogger{func() *zerolog.Event { return l.Error() }}
	// paho warns of routine events (an ack for a message its store has
	// already dropped); keep them at debug.
	pahomqtt.WARN = pahoLogger{func() *zerolog.Event { return l.Debug() }}
}
