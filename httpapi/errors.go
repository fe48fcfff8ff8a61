package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/vitalwire/vitalwire/alerts"
	"github.com/vitalwire/vitalwire/chart"
	"github.com/vitalwire/vitalwire/devices"
	"github.com/vitalwire/vitalwire/rpm"
	"github.com/vitalwire/vitalwire/telehealth"
	"github.com/vitalwire/vitalwire/vitals"
)

// Error is the body of every error answer of the REST API.
type Error struct {
	Error string `json:"error"`
}

// statusOf maps a domain error to its HTTP status: the one place that says
// what a sentinel means on the wire. Unknown errors are internal and their
// text is not shown.
func statusOf(err error) (int, string) {
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(devices.ErrNotFound, chart.ErrNotFound, alerts.ErrNotFound, telehealth.ErrNotFound, rpm.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case is(devices.ErrExists, chart.ErrExists):
		return http.StatusConflict, err.Error()
	case is(alerts.ErrState, telehealth.ErrEnded, rpm.ErrConflict):
		return http.StatusConflict, err.Error()
	case is(devices.ErrInvalidID, devices.ErrBindingOrder, devices.ErrRevoked, devices.ErrUnknownKind, devices.ErrBadQuery, devices.ErrInvalidLabel, chart.ErrInvalid,
		alerts.ErrReason, alerts.ErrUnknownRule, alerts.ErrInvalid, telehealth.ErrRole, alerts.ErrOutcome, alerts.ErrTooMany,
		rpm.ErrInvalid, vitals.ErrBadDaysQuery):
		return http.StatusBadRequest, err.Error()
	case is(vitals.ErrUnavailable):
		return http.StatusServiceUnavailable, "store unavailable"
	}
	return http.StatusInternalServerError, "internal error"
}

// failErr answers err with its status (statusOf).
func failErr(w http.ResponseWriter, err error) {
	status, msg := statusOf(err)
	fail(w, status, msg)
}

func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// maxBody bounds every request body the API reads.
const maxBody = 1 << 20

// decodeBody reads a JSON body (at most maxBody, no unknown fields); on
// failure it has answered 400.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}
