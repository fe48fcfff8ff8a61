package ingest

import (
	"context"

	"github.com/vitalwire/vitalwire/vitals"
)

// Result is what became of one message handed in with Ingest: the report
// a device reads on its rejects topic.
type Result struct {
	// Seq is the message's seq, when it had one.
	Seq *int64
	// Accepted counts the readings that are durable (stored now, or
	// already stored by an earlier delivery of the same message).
	Accepted int
	// Refused are the refused readings, by index in the message; a
	// refusal of the whole message (malformed, oversized) has index -1.
	Refused []Refusal
}

// Refusal is one refused reading and why.
type Refusal struct {
	Index  int
	Reason vitals.Reason
	Detail string
}

// Ingest takes one reading message of device from a source that is not
// MQTT (an HTTP request) down the same path as the broker's: decoded,
// validated, attributed, deduplicated, made durable, handed to the sink.
// It returns once every good reading is durable, with the report; an
// error (the ingester stopping, ctx ending first) means the caller cannot
// know, and should have the sender try again: redelivery is stored once.
func (in *Ingester) Ingest(ctx context.Context, device string, payload []byte) (Result, error) {
	acked := make(chan struct{})
	var rep rejectReport
	d := Delivery{Device: device, Payload: payload, Received: in.deps.Now(),
		Ack:    func() { close(acked) },
		report: func(r rejectReport) { rep = r }, // before Ack, in the same goroutine
	}
	if err := in.Submit(ctx, d); err != nil {
		return Result{}, err
	}
	select {
	case <-acked:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-in.stopped:
		return Result{}, ErrStopped
	}
	res := Result{Seq: rep.Seq, Accepted: rep.Accepted}
	for _, r := range rep.Rejects {
		res.Refused = append(res.Refused, Refusal{Index: r.Index, Reason: vitals.Reason(r.Reason), Detail: r.Detail})
	}
	return res, nil
}
