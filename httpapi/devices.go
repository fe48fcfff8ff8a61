package httpapi

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/vitalwire/vitalwire/devices"
)

// devicesAPI is the admin's device registry: register, bind, revoke.
type devicesAPI struct {
	access
	reg        *devices.Registry
	disconnect func(device string)
	log        zerolog.Logger
}

func (a devicesAPI) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.reg.List())
}

func (a devicesAPI) get(w http.ResponseWriter, r *http.Request) {
	d, err := a.reg.Get(r.PathValue("id"))
	if err != nil {
		failErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a devicesAPI) add(w http.ResponseWriter, r *http.Request) {
	var req AddDeviceRequest
	if !decodeBody(w, r, &req) {
		return
	}
	secret, err := a.reg.Add(r.Context(), req.ID, req.Kind)
	if err != nil {
		failErr(w, err)
		return
	}
	if req.Patient != "" {
		from := req.BoundFrom
		if from.IsZero() {
			from = time.Now()
		}
		if err := a.reg.Bind(r.Context(), req.ID, req.Patient, from); err != nil {
			failErr(w, err)
			return
		}
	}
	a.log.Info().Str("device", req.ID).Msg("device added")
	writeJSON(w, http.StatusCreated, AddDeviceResponse{ID: req.ID, Secret: secret})
}

func (a devicesAPI) bind(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	// Which device measures a patient decides whose readings are whose.
	if !a.allowed(w, r, req.Patient, "POST /api/v1/devices/{id}/bind") {
		return
	}
	if err := a.reg.Bind(r.Context(), r.PathValue("id"), req.Patient, req.At); err != nil {
		failErr(w, err)
		return
	}
	a.get(w, r)
}

func (a devicesAPI) unbind(w http.ResponseWriter, r *http.Request) {
	var req BindRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.At.IsZero() {
		req.At = time.Now()
	}
	if err := a.reg.Unbind(r.Context(), r.PathValue("id"), req.At); err != nil {
		failErr(w, err)
		return
	}
	a.get(w, r)
}

func (a devicesAPI) revoke(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := a.reg.Revoke(r.Context(), id); err != nil {
		failErr(w, err)
		return
	}
	if a.disconnect != nil {
		a.disconnect(id)
	}
	a.log.Info().Str("device", id).Msg("device revoked")
	a.get(w, r)
}
